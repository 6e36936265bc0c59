"""Health: every plugin's health at a glance (open anomalies, the risk its forecast shows, tracked
accuracy, freshness) folded into one verdict by the documented rules; its accuracy is the
forecasting part's accuracy, computed by the one definition (forecast.accuracy_from_sums)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np
import pytest

from plugin_ai_analytics.errors import NotFound
from plugin_ai_analytics.forecast import accuracy_from_sums
from plugin_ai_analytics.schemas import PluginHealth, PluginsOverview
from plugin_ai_analytics.service.health import THRESHOLDS, _Cache, forecast_risks
from plugin_ai_analytics.store import Store

from .conftest import (
    detection_of,
    forecasts_of,
    health_of,
    recent_end,
    stored,
    synthetic_plugin,
    tracking_of,
    with_incident,
)


def day_of(point: dict) -> str:
    return point["timestamp"][:10]


def test_health_accuracy_is_the_forecasting_accuracy_by_one_definition(store: Store, settings) -> None:
    stored(store, "shop", synthetic_plugin(2.5, end=recent_end(2)))
    stored(store, "poor", synthetic_plugin(2.5, end=recent_end(2), seed=3))
    forecasts = forecasts_of(store, settings)
    pairs: dict[str, list[tuple[dict, float]]] = {}
    for plugin_id, factor in (("shop", 1.1), ("poor", 3.0)):
        forecasts.train_now(plugin_id)
        made = forecasts.latest(plugin_id)
        for metric in ("request_count", "cpu_percent"):
            points = made.metrics[metric].forecast[:12]
            actual = [round(p["value"] * factor) if metric == "request_count" else p["value"] * factor for p in points]
            pairs[f"{plugin_id}/{metric}"] = list(zip(points, actual, strict=True))
            stored(
                store, plugin_id, [{"timestamp": p["timestamp"], metric: a} for p, a in pairs[f"{plugin_id}/{metric}"]]
            )
    tracking = tracking_of(store, settings, forecasts)
    assert tracking.score_due() == 48

    def exact(key: str, day: str | None = None) -> float:
        chosen = [(p, a) for p, a in pairs[key] if day is None or day_of(p) == day]
        return float(accuracy_from_sums(sum(abs(a - p["value"]) for p, a in chosen), sum(abs(a) for _, a in chosen)))

    health = health_of(store, settings)
    shop = health.plugin("shop")
    assert isinstance(shop, PluginHealth)
    tracked = tracking.accuracy("shop")
    for metric in ("request_count", "cpu_percent"):
        assert tracked[metric].accuracy_percent == round(exact(f"shop/{metric}"), 2)
        days = sorted({day_of(p) for p, _ in pairs[f"shop/{metric}"]})
        assert [d.model_dump() for d in shop.accuracy_daily[metric]] == [
            {
                "day": day,
                "accuracy_percent": round(exact(f"shop/{metric}", day), 2),
                "scored": sum(day_of(p) == day for p, _ in pairs[f"shop/{metric}"]),
            }
            for day in days
        ]
    # pooled over the metrics, each weighted equally
    assert shop.accuracy.tracked_percent == round(
        float(np.mean([exact("shop/request_count"), exact("shop/cpu_percent")])), 2
    )
    assert shop.accuracy.scored_predictions == 24
    backtests = [m.backtest["accuracy"] for m in forecasts.trained_models("shop")]
    assert shop.accuracy.backtest_percent == round(sum(backtests) / len(backtests), 2)
    assert shop.accuracy.trained_metrics == 6
    assert "low_accuracy" not in shop.reasons

    poor = health.plugin("poor")
    assert poor.accuracy.tracked_percent < THRESHOLDS["accuracy_warning_percent"]
    assert "low_accuracy" in poor.reasons and poor.health in ("warning", "critical")

    # the overview's rows say the same
    rows = {row.plugin_id: row for row in health_of(store, settings).overview().plugins}
    assert rows["shop"].accuracy == shop.accuracy and rows["poor"].accuracy == poor.accuracy


def test_the_overview_folds_forecast_risk_and_freshness_into_health(store: Store, settings) -> None:
    # A slow memory leak (from 800 MiB, 0.05 MiB per 5 minutes): after 3 days it is near 843 MiB,
    # so the next 24 h are forecast above an 840 MiB limit.
    store.plugins.upsert({"plugin_id": "leaky", "memory_limit_mb": 840, "interval_seconds": 300})
    stored(store, "leaky", synthetic_plugin(3, end=recent_end(0)))
    store.plugins.upsert({"plugin_id": "ghost", "name": "never sent anything"})
    stored(store, "old", synthetic_plugin(1, end=recent_end(48)))
    forecasts_of(store, settings).train_now("leaky")

    overview = health_of(store, settings).overview()
    assert isinstance(overview, PluginsOverview)
    assert (overview.cpu_cores, overview.thresholds) == (4, THRESHOLDS)
    rows = {row.plugin_id: row for row in overview.plugins}
    assert list(rows) == ["ghost", "leaky", "old"]
    assert overview.health_counts == {"no_data": 1, "critical": 1, "warning": 1}

    leaky = rows["leaky"]
    assert (leaky.health, leaky.forecast.risk) == ("critical", "high")
    assert "forecast_crosses_limit" in leaky.reasons
    (risk,) = [r for r in leaky.forecast.risks if r.metric == "memory_mb"]
    assert (risk.kind, risk.level, risk.limit) == ("limit", "high", 840) and risk.value >= 840
    assert risk.at is not None and risk.at > leaky.last_sample
    assert leaky.samples == 3 * 288 and not leaky.stale
    assert sorted(leaky.forecast.metrics) == sorted(forecasts_of(store, settings).latest("leaky").metrics)

    assert (rows["ghost"].health, rows["ghost"].last_sample, rows["ghost"].age_seconds) == ("no_data", None, None)
    old = rows["old"]
    assert old.stale and "stale_data" in old.reasons and old.health == "warning"
    assert old.forecast.risk is None  # never trained: no forecast, which is not "no risk"
    assert old.age_seconds == pytest.approx(48 * 3600, abs=120)


def test_an_open_high_anomaly_makes_a_plugin_critical(sqlite_store: Store, settings) -> None:
    samples = synthetic_plugin(2, end=recent_end(0.5))
    stored(sqlite_store, "shop", with_incident(samples, len(samples) - 6))  # failing until now
    detection_of(sqlite_store).detect_now("shop")
    row = health_of(sqlite_store, settings).plugin("shop")
    assert row.open_anomalies["High"] == 1 and row.anomalies_24h >= 1
    assert (row.health, row.reasons[0]) == ("critical", "open_high_anomaly")


def test_a_plugin_row_lists_its_models_and_an_unknown_plugin_is_not_found(sqlite_store: Store, settings) -> None:
    stored(sqlite_store, "shop", synthetic_plugin(2.5, end=recent_end(1)))
    forecasts = forecasts_of(sqlite_store, settings)
    forecasts.train_now("shop")
    row = health_of(sqlite_store, settings).plugin("shop")
    trained = {m.metric: m for m in forecasts.trained_models("shop")}
    assert set(row.models) == set(trained)
    for metric, info in row.models.items():
        assert (info.model, info.version, info.trained_at) == (trained[metric].model, 1, trained[metric].trained_at)
        assert info.backtest == {
            k: trained[metric].backtest[k] for k in ("accuracy", "mase", "coverage_80", "coverage_95")
        }
    assert row.accuracy_daily == {} and row.accuracy.tracked_percent is None  # nothing scored yet
    with pytest.raises(NotFound) as caught:
        health_of(sqlite_store, settings).plugin("ghost")
    assert caught.value.message == "plugin 'ghost' is not registered and has sent no metrics"


def test_forecast_risks_follow_the_documented_rules() -> None:
    noon = int(datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp() * 1000)
    crossings: list[tuple] = []

    def first_crossing(metric: str, column: str, limit: float) -> int:
        crossings.append((metric, column, limit))
        return noon

    forecast = {
        "cpu_percent": {"peak": 380.0, "upper_95": 400.0, "early_mean": 300.0, "late_mean": 300.0},
        "memory_mb": {"peak": 700.0, "upper_95": 900.0, "early_mean": 600.0, "late_mean": 690.0},
        "error_rate": {"peak": 0.01, "upper_95": 0.02, "early_mean": 0.002, "late_mean": 0.01},
    }
    limits = {"cpu_percent": 360.0, "memory_mb": 800.0, "error_rate": 0.05}
    risks = forecast_risks(forecast, limits, first_crossing)
    assert risks == [
        # the point forecast reaches the limit
        {
            "metric": "cpu_percent",
            "kind": "limit",
            "level": "high",
            "value": 380.0,
            "limit": 360.0,
            "at": "2026-01-01T12:00:00Z",
        },
        # only the 95 % bound does
        {
            "metric": "memory_mb",
            "kind": "limit",
            "level": "medium",
            "value": 900.0,
            "limit": 800.0,
            "at": "2026-01-01T12:00:00Z",
        },
        # x5 from the first quarter of the horizon to the last
        {
            "metric": "error_rate",
            "kind": "rising",
            "level": "medium",
            "value": 0.01,
            "limit": None,
            "at": None,
            "from_value": 0.002,
        },
    ]
    assert crossings == [("cpu_percent", "value", 360.0), ("memory_mb", "upper_95", 800.0)]

    # a rising error rate already over its limit is one risk, not two
    over = {"error_rate": {"peak": 0.08, "upper_95": 0.1, "early_mean": 0.01, "late_mean": 0.07}}
    assert [(r["kind"], r["level"]) for r in forecast_risks(over, {"error_rate": 0.05}, lambda *_: None)] == [
        ("limit", "high")
    ]
    assert forecast_risks({}, limits, first_crossing) == []


def test_a_stale_cached_scan_is_served_while_one_caller_computes_it_again() -> None:
    cache = _Cache()
    assert cache.get("extents", None, lambda: 1, max_age=0) == 1
    inside, release = threading.Event(), threading.Event()

    def slow() -> int:
        inside.set()
        release.wait(5)
        return 2

    refresher = threading.Thread(target=lambda: cache.get("extents", None, slow, max_age=0))
    refresher.start()
    assert inside.wait(5)
    # a second caller does not start the same scan: it gets the previous value at once
    assert cache.get("extents", None, lambda: 3, max_age=0) == 1
    release.set()
    refresher.join(5)
    assert cache.get("extents", None, lambda: 4, max_age=60) == 2
