"""Forecasts: training every metric with enough history (as a job, or now), 24 h forecasts with
80 %/95 % intervals served from cache until a sample or a model changes, stored for accuracy
tracking, scored against the actuals that arrive, and the rule that says when to retrain."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from plugin_ai_analytics.config import Settings
from plugin_ai_analytics.domain import FORECAST_METRICS
from plugin_ai_analytics.errors import InsufficientData, NotFound, NotTrained
from plugin_ai_analytics.forecast import accuracy_from_sums, seasonal_scale
from plugin_ai_analytics.jobs.executor import JobRunner
from plugin_ai_analytics.jobs.inprocess import InProcessExecutor
from plugin_ai_analytics.schemas import ForecastFailure, MetricForecast, PluginForecast, TrackedAccuracy
from plugin_ai_analytics.service.forecasts import Forecasts
from plugin_ai_analytics.store import Store, tables

from ..conftest import make_settings
from .conftest import STEP, forecasts_of, recent_end, stored, synthetic_plugin, tracking_of

DAYS = 2.5  # the forecaster needs 48 h (a day to fit, a day to check a 24 h forecast): a little more


def trained(store: Store, settings: Settings, plugin_id: str, *, end: datetime, seed: int = 7) -> Forecasts:
    stored(store, plugin_id, synthetic_plugin(DAYS, end=end, seed=seed))
    forecasts = forecasts_of(store, settings)
    forecasts.train_now(plugin_id)
    return forecasts


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def backdate_models(store: Store, plugin_id: str, hours: float) -> None:
    """Make the plugin's models look ``hours`` older (the rule reads their training time)."""
    with store.engine.begin() as conn:
        conn.execute(
            update(tables.models)
            .where(tables.models.c.plugin_id == plugin_id)
            .values(trained_at=tables.models.c.trained_at - int(hours * 3_600_000))
        )


def push_actuals(store: Store, forecast: PluginForecast, metric: str, n: int, actual) -> list[tuple[dict, float]]:
    """Store an actual for the first ``n`` points of ``metric``; returns (point, actual) pairs."""
    points = forecast.metrics[metric].forecast[:n]
    pairs = [(p, actual(p["value"])) for p in points]
    stored(store, forecast.plugin_id, [{"timestamp": p["timestamp"], metric: a} for p, a in pairs])
    return pairs


def test_training_stores_a_model_per_metric_and_a_fresh_forecast(store: Store, settings: Settings) -> None:
    stored(store, "shop", synthetic_plugin(DAYS, end=recent_end(1)))
    forecasts = forecasts_of(store, settings)
    result = forecasts.train_now("shop")
    assert set(result["trained"]) == set(FORECAST_METRICS) and result["skipped"] == {}
    assert {entry["version"] for entry in result["trained"].values()} == {1}
    assert result["predictions_made_at"] == forecasts.latest("shop").made_at

    models = forecasts.trained_models("shop")
    assert [(m.metric, m.version) for m in models] == sorted((m, 1) for m in FORECAST_METRICS)
    for model in models:
        assert model.model == result["trained"][model.metric]["model"]
        assert 0 < model.backtest["accuracy"] <= 100 and model.backtest["mase"] > 0

    forecasts.train_now("shop", predict_after=False)
    assert {m.version for m in forecasts.trained_models("shop")} == {2}  # the new model is the active one
    assert forecasts.trained_models() == forecasts.trained_models("shop")


def test_too_little_history_says_how_many_hours_are_missing(sqlite_store: Store, settings: Settings) -> None:
    stored(sqlite_store, "young", synthetic_plugin(1.5, end=recent_end(1)))  # 36 h of the 48 h needed
    forecasts = forecasts_of(sqlite_store, settings)
    with pytest.raises(InsufficientData) as caught:
        forecasts.train_now("young")
    assert caught.value.message == "insufficient data to train 'young': need 12 more hours of history"
    assert caught.value.details["needed_hours"] == 12
    assert set(caught.value.details["skipped"]) == set(FORECAST_METRICS)
    # predict never trains: it says what to do and how much is stored and needed
    with pytest.raises(NotTrained) as untrained:
        forecasts.predict("young")
    assert untrained.value.status_code == 409
    assert "POST /api/plugin-ai-analytics/train-models/young" in untrained.value.message
    details = untrained.value.details
    assert (details["samples"], details["have_hours"], details["needed_hours"]) == (432, 36, 12)
    assert forecasts.trained_models("young") == []


def test_a_plugin_without_samples_has_nothing_to_train_and_an_unknown_one_is_not_found(
    sqlite_store: Store, settings: Settings
) -> None:
    forecasts = forecasts_of(sqlite_store, settings)
    sqlite_store.plugins.upsert({"plugin_id": "silent"})
    with pytest.raises(InsufficientData) as caught:
        forecasts.train_now("silent")
    assert caught.value.message == "plugin 'silent' has no metric history to train on"
    assert caught.value.details["needed_hours"] == 0
    with pytest.raises(NotFound) as missing:
        forecasts.train_now("ghost")
    assert missing.value.message == "plugin 'ghost' is not registered and has sent no metrics"
    with pytest.raises(InsufficientData) as untrained:
        forecasts.latest("silent")
    assert untrained.value.message == "no predictions for 'silent' yet"
    with pytest.raises(InsufficientData) as nothing:
        forecasts.refresh("silent")
    assert nothing.value.message == "no trained models for 'silent': POST train-models first"


def test_a_forecast_covers_the_next_24_hours_of_every_metric_with_ordered_intervals(
    store: Store, settings: Settings
) -> None:
    end = recent_end(1)
    forecast = trained(store, settings, "shop", end=end).predict("shop")
    assert isinstance(forecast, PluginForecast)
    assert (forecast.plugin_id, forecast.horizon_hours) == ("shop", 24)
    assert set(forecast.metrics) == set(FORECAST_METRICS)
    for metric, entry in forecast.metrics.items():
        assert isinstance(entry, MetricForecast) and entry.model_version == 1
        points = entry.forecast
        assert [p["timestamp"] for p in points] == [iso(end + k * STEP) for k in range(1, 289)], metric
        for p in points:
            assert p["lower_95"] <= p["lower_80"] <= p["value"] <= p["upper_80"] <= p["upper_95"]
            assert 0 <= p["confidence"] <= 100
        if metric == "error_rate":  # clipped to its physical range
            assert all(0 <= p["lower_95"] and p["upper_95"] <= 1 for p in points)
    # the daily load cycle is learnt: the request forecast swings like the history does
    values = [p["value"] for p in forecast.metrics["request_count"].forecast]
    assert max(values) - min(values) > 150


def test_the_forecast_is_served_as_made_until_a_sample_arrives_or_a_model_changes(
    sqlite_store: Store, settings: Settings
) -> None:
    end = recent_end(1)
    forecasts = trained(sqlite_store, settings, "shop", end=end)
    first = forecasts.predict("shop")
    stored_forecasts = sqlite_store.predictions.version()
    assert forecasts.predict("shop") == first  # nothing changed: the same forecast, not made again
    assert sqlite_store.predictions.version() == stored_forecasts

    stored(sqlite_store, "shop", [{"timestamp": iso(end + STEP), "cpu_percent": 30.0}])
    after_sample = forecasts.predict("shop")
    assert after_sample.made_at > first.made_at and sqlite_store.predictions.version() > stored_forecasts
    assert after_sample.metrics["cpu_percent"].forecast[0]["timestamp"] == iso(end + 2 * STEP)
    assert forecasts.predict("shop") == after_sample

    forecasts.train_now("shop", predict_after=False)
    retrained = forecasts.predict("shop")
    assert {entry.model_version for entry in retrained.metrics.values()} == {2}


def test_the_latest_forecast_is_the_stored_one_as_it_was_made(store: Store, settings: Settings) -> None:
    forecasts = trained(store, settings, "shop", end=recent_end(1))
    assert forecasts.latest("shop").model_dump() == forecasts.predict("shop").model_dump()
    # a second service process reads it from the store alone
    assert forecasts_of(store, settings).latest("shop") == forecasts.latest("shop")


def test_a_refresh_stores_the_points_predict_would_and_reports_each_peak(
    sqlite_store: Store, settings: Settings
) -> None:
    forecasts = trained(sqlite_store, settings, "shop", end=recent_end(1))
    predicted = forecasts.predict("shop")
    stored_forecasts = sqlite_store.predictions.version()
    peaks = forecasts.refresh("shop")
    assert sqlite_store.predictions.version() > stored_forecasts  # made and stored again
    refreshed = forecasts.latest("shop")
    assert refreshed.made_at >= predicted.made_at
    assert refreshed.metrics == predicted.metrics
    assert peaks == {
        metric: {"peak_24h": max(p["value"] for p in entry.forecast), "model": entry.model}
        for metric, entry in predicted.metrics.items()
    }


def test_due_forecasts_are_scored_against_the_actuals_that_arrive(store: Store, settings: Settings) -> None:
    samples = synthetic_plugin(DAYS, end=recent_end(2))  # its forecast's first two hours are past
    stored(store, "tracked", samples)
    forecasts = forecasts_of(store, settings)
    forecasts.train_now("tracked")
    tracking = tracking_of(store, settings, forecasts)
    assert tracking.score_due() == 0  # targets have passed, but no actual has arrived

    made = forecasts.latest("tracked")
    pairs = push_actuals(store, made, "request_count", 12, lambda v: int(round(v)) + 5)
    assert tracking.score_due() == 12  # the other metrics' points have no actual yet
    assert tracking.score_due() == 0  # scored once

    actual = np.array([a for _, a in pairs], dtype=float)
    value = np.array([p["value"] for p, _ in pairs])
    error = float(np.abs(actual - value).sum())
    scale = seasonal_scale(np.array([s["request_count"] for s in samples], dtype=float), 288)
    inside = {
        level: round(sum(p[f"lower_{level}"] <= a <= p[f"upper_{level}"] for p, a in pairs) / 12, 3)
        for level in (80, 95)
    }
    assert tracking.accuracy("tracked") == {
        "request_count": TrackedAccuracy(
            scored_predictions=12,
            accuracy_percent=round(float(accuracy_from_sums(error, float(actual.sum()))), 2),
            coverage_80=inside[80],
            coverage_95=inside[95],
            mase=round(error / 12 / scale, 3),
        )
    }
    assert tracking.accuracy("tracked", days=0.01) == {}  # targets older than the window


def test_retraining_is_due_by_age_or_after_a_day_of_poor_accuracy(sqlite_store: Store, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model_retraining_interval_hours=48)
    end = recent_end(2)
    poor = trained(sqlite_store, settings, "poor", end=end, seed=1)
    good = trained(sqlite_store, settings, "good", end=end, seed=2)
    push_actuals(sqlite_store, poor.latest("poor"), "request_count", 12, lambda v: int(round(3 * v)))
    push_actuals(sqlite_store, good.latest("good"), "request_count", 12, lambda v: int(round(v)))
    tracking = tracking_of(sqlite_store, settings, poor)
    assert tracking.score_due() == 24
    assert (
        tracking.accuracy("poor", days=1)["request_count"].accuracy_percent
        < 70
        <= tracking.accuracy("good")["request_count"].accuracy_percent
    )

    assert tracking.retrain_due() == []  # fresh models are never retrained in a loop, however poor
    for plugin_id in ("poor", "good"):
        backdate_models(sqlite_store, plugin_id, 30)
    assert tracking.retrain_due() == ["poor"]  # a day old and below 70 % over the last day
    backdate_models(sqlite_store, "good", 20)
    assert sorted(tracking.retrain_due()) == ["good", "poor"]  # older than the interval, whatever its accuracy


def test_training_runs_as_a_job_that_says_how_it_ended(sqlite_store: Store, settings: Settings) -> None:
    stored(sqlite_store, "shop", synthetic_plugin(DAYS, end=recent_end(1)))
    stored(sqlite_store, "young", synthetic_plugin(1.5, end=recent_end(1)))
    jobs = JobRunner(sqlite_store.jobs, workers=1)
    try:
        # the executor runs the named task "train_models", which is the forecasts' own training
        executor = InProcessExecutor(jobs, lambda kind: lambda pid, params, progress: train(pid, progress))
        forecasts = forecasts_of(sqlite_store, settings, jobs=executor)
        train = forecasts.run_training
        done = {plugin_id: forecasts.submit_training(plugin_id) for plugin_id in ("shop", "young")}
        deadline = time.monotonic() + 60
        while jobs.queue_depth and time.monotonic() < deadline:
            time.sleep(0.05)
        shop, young = (sqlite_store.jobs.get(done[p]) for p in ("shop", "young"))
        assert (shop["kind"], shop["plugin_id"], shop["status"], shop["progress"]) == (
            "train_models",
            "shop",
            "succeeded",
            1.0,
        )
        assert set(shop["result"]["trained"]) == set(FORECAST_METRICS)
        assert (young["status"], young["error"]) == (
            "failed",
            "insufficient data to train 'young': need 12 more hours of history",
        )
        assert young["result"]["needed_hours"] == 12
        assert forecasts.training_count == 0
        with pytest.raises(NotFound):
            forecasts.submit_training("ghost")
    finally:
        jobs.shutdown(wait=True)
    with pytest.raises(RuntimeError, match="^this context runs no background jobs$"):
        forecasts_of(sqlite_store, settings).submit_training("shop")


def test_a_model_that_fails_its_checksum_is_refused_for_its_metric_only(
    sqlite_store: Store, settings: Settings
) -> None:
    end = recent_end(1)
    forecasts = trained(sqlite_store, settings, "tampered", end=end)
    with sqlite_store.engine.begin() as conn:
        conn.execute(
            update(tables.models)
            .where(tables.models.c.plugin_id == "tampered", tables.models.c.metric == "cpu_percent")
            .values(state='{"format": "evil"}')
        )
    stored(sqlite_store, "tampered", [{"timestamp": iso(end + STEP), "cpu_percent": 50.0}])
    forecast = forecasts.predict("tampered")
    assert forecast.metrics["cpu_percent"] == ForecastFailure(
        error="stored model tampered/cpu_percent v1 fails its checksum: refused (retrain it)"
    )
    assert all(len(forecast.metrics[m].forecast) == 288 for m in FORECAST_METRICS if m != "cpu_percent")


def test_a_forecast_point_in_the_past_is_scored_only_by_a_sample_within_half_a_step(
    sqlite_store: Store, settings: Settings
) -> None:
    forecasts = trained(sqlite_store, settings, "tracked", end=recent_end(2))
    tracking = tracking_of(sqlite_store, settings, forecasts)
    first = forecasts.latest("tracked").metrics["memory_mb"].forecast[0]
    target = datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
    stored(sqlite_store, "tracked", [{"timestamp": iso(target + timedelta(seconds=151)), "memory_mb": 1.0}])
    assert tracking.score_due() == 1  # the next point (149 s away), not this one (151 s away)
    stored(sqlite_store, "tracked", [{"timestamp": iso(target - timedelta(seconds=150)), "memory_mb": 2.0}])
    assert tracking.score_due() == 1
    assert tracking.accuracy("tracked")["memory_mb"].scored_predictions == 2
    assert datetime.now(UTC) > target
