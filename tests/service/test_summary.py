"""Summary: one page that ties a plugin's state together (current values, trends, the latest
forecast, anomalies, top suggestions, model accuracy, data quality), each read from the part
that owns it, so the page and the part never disagree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from plugin_ai_analytics.domain import FORECAST_METRICS
from plugin_ai_analytics.errors import NotFound
from plugin_ai_analytics.schemas import AnalyticsSummary
from plugin_ai_analytics.service.advice import Advice
from plugin_ai_analytics.service.detection import Detection
from plugin_ai_analytics.service.forecasts import Forecasts
from plugin_ai_analytics.service.history import frame_of
from plugin_ai_analytics.service.summary import Summary, trends
from plugin_ai_analytics.store import Store

from ..api.test_suggestions import leaking_plugin
from .conftest import (
    advice_of,
    detection_of,
    forecasts_of,
    history_of,
    recent_end,
    rows_of,
    stored,
    synthetic_plugin,
    tracking_of,
)


def parts_of(store: Store, settings) -> tuple[Summary, Forecasts, Detection, Advice]:
    """The summary and the parts it reads, wired as the service wires them."""
    history = history_of(store)
    forecasts, detection, advice = forecasts_of(store, settings), detection_of(store), advice_of(store)
    summary = Summary(
        plugins=store.plugins,
        metrics=store.metrics,
        models=store.models,
        rejections=store.rejections,
        history=history,
        forecasts=forecasts,
        tracking=tracking_of(store, settings, forecasts),
        detection=detection,
        advice=advice,
    )
    return summary, forecasts, detection, advice


def test_the_summary_of_a_trained_and_scored_plugin(store: Store, settings) -> None:
    samples = synthetic_plugin(2.5, end=recent_end(2))
    stored(store, "shop", samples)
    summary_part, forecasts, detection, _ = parts_of(store, settings)
    forecasts.train_now("shop")
    made = forecasts.latest("shop")
    actuals = [
        {"timestamp": p["timestamp"], "request_count": int(round(p["value"])) + 5}
        for p in made.metrics["request_count"].forecast[:12]
    ]
    stored(store, "shop", actuals)
    tracking = tracking_of(store, settings, forecasts)
    tracking.score_due()
    detection.detect_now("shop")

    summary = summary_part.build("shop")
    assert isinstance(summary, AnalyticsSummary)
    assert (summary.plugin_id, summary.name, summary.samples) == ("shop", "shop", len(samples) + 12)
    assert summary.last_sample == actuals[-1]["timestamp"]
    assert summary.current["memory_mb"].value == pytest.approx(samples[-1]["memory_mb"])
    assert summary.current["request_count"].value == actuals[-1]["request_count"]

    # the page's accuracy is the forecasting part's, to the digit
    assert summary.model_accuracy.tracked == tracking.accuracy("shop", days=7)
    assert summary.model_accuracy.tracked["request_count"].scored_predictions == 12
    models = {m.metric: m for m in forecasts.trained_models("shop")}
    assert set(summary.model_accuracy.models) == set(FORECAST_METRICS)
    for metric, info in summary.model_accuracy.models.items():
        assert (info.model, info.version, info.backtest) == (models[metric].model, 1, models[metric].backtest)

    assert summary.forecast_made_at == made.made_at
    for metric, digest in summary.forecasts.items():
        points = made.metrics[metric].forecast
        peak = max(points, key=lambda p: p["value"])
        assert digest.next == points[0] and digest.model == made.metrics[metric].model
        assert (digest.peak_24h.timestamp, digest.peak_24h.value) == (peak["timestamp"], peak["value"])
        assert digest.highest_upper_95 == max(p["upper_95"] for p in points)
        assert digest.mean_confidence == round(float(np.mean([p["confidence"] for p in points])), 1)

    assert summary.anomalies.open == detection.history("shop", state="open", limit=20)
    recent = detection.history("shop", limit=100)
    assert summary.anomalies.last_7_days == {s: sum(e.severity == s for e in recent) for s in ("High", "Medium", "Low")}

    memory = summary.trends["memory_mb"]
    # the synthetic plugin leaks 0.05 MiB per 5-minute sample = 14.4 MiB/day
    assert memory.direction == "rising" and memory.slope_per_day == pytest.approx(14.4, rel=0.1)
    assert memory.mean_previous_7d is None  # there is no week before this one yet
    requests = summary.trends["request_count"].daily_pattern
    assert len(requests.by_hour_utc) == 24 and requests.peak_to_trough > 3

    quality = summary.data_quality
    assert (quality.gaps_7d, quality.step_seconds, quality.rejected_batches_24h) == (0, 300, 0)
    assert quality.stale is True  # the newest sample is an hour old: over 3 steps of a push-only plugin
    assert quality.missing_share["memory_mb"] == pytest.approx(12 / (len(samples) + 12))


def test_the_top_suggestions_come_most_urgent_first(sqlite_store: Store, settings) -> None:
    sqlite_store.plugins.upsert({"plugin_id": "leaky", "memory_limit_mb": 2048, "cpu_limit_percent": 100})
    stored(sqlite_store, "leaky", leaking_plugin(7.2, 5.0))
    part, _, _, advice = parts_of(sqlite_store, settings)
    found = advice.suggest("leaky").suggestions
    summary = part.build("leaky")
    rank = {"High": 0, "Medium": 1, "Low": 2}
    assert summary.suggestions == sorted(found, key=lambda s: (rank[s.priority], s.title))[:5]
    assert [s.finding for s in summary.suggestions] == ["cpu_headroom", "memory_leak"]


def test_data_quality_counts_gaps_staleness_and_refused_batches(sqlite_store: Store, settings) -> None:
    samples = synthetic_plugin(2, end=recent_end(0))
    stored(sqlite_store, "gappy", samples[:200] + samples[260:])  # a five-hour hole
    for _ in range(2):
        sqlite_store.rejections.record("gappy", "samples[0].error_rate", "samples[0].error_rate: too high", 1)
    quality = parts_of(sqlite_store, settings)[0].build("gappy").data_quality
    assert (quality.gaps_7d, quality.longest_gap_minutes) == (1, 305)
    assert (quality.stale, quality.rejected_batches_24h, quality.step_seconds) == (False, 2, 300)
    assert 0 <= quality.last_sample_age_seconds < 120


def test_a_plugin_without_samples_has_an_empty_page_and_an_unknown_one_is_not_found(
    sqlite_store: Store, settings
) -> None:
    sqlite_store.plugins.upsert({"plugin_id": "silent", "name": "Silent"})
    part = parts_of(sqlite_store, settings)[0]
    summary = part.build("silent")
    assert summary.model_dump(include={"name", "samples", "first_sample", "last_sample"}) == {
        "name": "Silent",
        "samples": 0,
        "first_sample": None,
        "last_sample": None,
    }
    assert (summary.current, summary.trends, summary.forecasts, summary.forecast_made_at) == ({}, {}, {}, None)
    assert summary.anomalies.model_dump() == {"open": [], "last_7_days": {"High": 0, "Medium": 0, "Low": 0}}
    assert summary.suggestions == [] and summary.model_accuracy.model_dump() == {"models": {}, "tracked": {}}
    assert summary.data_quality.model_dump() == {
        "gaps_7d": 0,
        "longest_gap_minutes": 0.0,
        "stale": None,
        "step_seconds": None,
        "rejected_batches_24h": 0,
        "last_sample_age_seconds": None,
        "missing_share": None,
    }
    with pytest.raises(NotFound) as caught:
        part.build("ghost")
    assert caught.value.message == "plugin 'ghost' is not registered and has sent no metrics"


def test_a_trend_compares_the_last_week_with_the_week_before() -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    frame = frame_of(rows_of("long", synthetic_plugin(14, end=end)))
    memory = trends(frame)["memory_mb"]
    # the leak adds 0.05 MiB per sample: a week (2016 samples) later the mean is 100.8 MiB higher
    assert memory["mean_7d"] - memory["mean_previous_7d"] == pytest.approx(100.8, abs=0.5)
    assert memory["change_vs_previous_7d_percent"] == pytest.approx(
        100 * (memory["mean_7d"] - memory["mean_previous_7d"]) / memory["mean_previous_7d"]
    )
    assert trends(frame_of([])) == {}
