"""Batch analysis: one plugin's analyses (train, forecast, detect, suggest) run by a light worker
context (``Analysts``), returning a compact result and never raising: one plugin's failure is its
own result; ``run_batch`` spreads many plugins over worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from plugin_ai_analytics.domain import FORECAST_METRICS
from plugin_ai_analytics.service.batch import BATCH_ANALYSES, Analysts, analyse_plugin, run_batch
from plugin_ai_analytics.store import Store

from ..conftest import make_settings
from .conftest import recent_end, stored, synthetic_plugin


def test_a_plugin_is_analysed_in_full_with_a_compact_result(store: Store, settings) -> None:
    stored(store, "alpha", synthetic_plugin(2.5, end=recent_end(0), seed=1))
    analysts = Analysts.open(settings, store)
    assert analysts.store is store

    result = analyse_plugin(analysts, "alpha", BATCH_ANALYSES, retrain=False)
    assert result["ok"] is True and result["seconds"] >= 0
    assert result["trained"] == sorted(FORECAST_METRICS)
    latest = analysts.forecasts.latest("alpha")  # the forecast is stored, only its peaks come back
    assert result["forecast"] == {
        metric: {"peak_24h": max(p["value"] for p in entry.forecast), "model": entry.model}
        for metric, entry in latest.metrics.items()
    }
    status = analysts.detection.detect_now("alpha")
    assert (result["anomaly_status"], result["open_anomalies"]) == (status.status, len(status.open_anomalies))
    assert result["suggestions"] == [s.finding for s in analysts.advice.records("alpha")]

    again = analyse_plugin(analysts, "alpha", ("train",), retrain=False)
    assert "trained" not in again and again["ok"]  # models exist: not trained again
    retrained = analyse_plugin(analysts, "alpha", ("train",), retrain=True)
    assert retrained["trained"] == sorted(FORECAST_METRICS)
    assert {m.version for m in analysts.forecasts.trained_models("alpha")} == {2}


def test_a_plugins_failure_is_its_own_result_and_keeps_what_was_done(sqlite_store: Store, settings) -> None:
    stored(sqlite_store, "tiny", synthetic_plugin(0.2, end=recent_end(0)))  # 57 samples: 4.75 h of 48 h
    analysts = Analysts.open(settings, sqlite_store)
    tiny = analyse_plugin(analysts, "tiny", ("train", "forecast", "detect"), retrain=False)
    assert tiny == {
        "ok": False,
        "error": "insufficient data to train 'tiny': need 44 more hours of history",
        "partial": {"ok": True},
        "seconds": tiny["seconds"],
    }
    ghost = analyse_plugin(analysts, "ghost", BATCH_ANALYSES, retrain=False)
    assert (ghost["ok"], ghost["error"]) == (False, "plugin 'ghost' is not registered and has sent no metrics")

    # A crash that is not one of our errors (here: the anomalies table is gone) is caught too,
    # and what the analyses before it found is kept.
    stored(sqlite_store, "alpha", synthetic_plugin(2.5, end=recent_end(0), seed=1))
    with sqlite_store.engine.begin() as conn:
        conn.execute(text("DROP TABLE anomalies"))
    crashed = analyse_plugin(analysts, "alpha", BATCH_ANALYSES, retrain=False)
    assert crashed["ok"] is False and crashed["error"].startswith("OperationalError: ")
    assert crashed["partial"]["trained"] == sorted(FORECAST_METRICS)
    assert set(crashed["partial"]["forecast"]) == set(FORECAST_METRICS)
    assert "anomaly_status" not in crashed["partial"]


@pytest.mark.slow
def test_a_batch_runs_on_worker_processes_and_reports_each_plugin(sqlite_store: Store, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sqlite_store.url)
    stored(sqlite_store, "alpha", synthetic_plugin(2.5, end=recent_end(0), seed=1))
    stored(sqlite_store, "tiny", synthetic_plugin(0.2, end=recent_end(0), seed=3))
    progress: list[float] = []
    report = run_batch(settings, ["alpha", "tiny"], ("train", "forecast", "detect"), progress.append, workers=1)
    assert {k: report[k] for k in ("plugins", "succeeded", "failed", "analyses", "workers", "pid")} == {
        "plugins": 2,
        "succeeded": 1,
        "failed": ["tiny"],
        "analyses": ["train", "forecast", "detect"],
        "workers": 1,
        "pid": os.getpid(),
    }
    assert progress[-1] == 1.0 and report["peak_worker_rss_mb"] > 0
    assert report["results"]["alpha"]["trained"] == sorted(FORECAST_METRICS)
    assert report["results"]["tiny"]["error"] == "insufficient data to train 'tiny': need 44 more hours of history"
    # the worker's results are in the store: the forecast, and the detector it saved before forgetting it
    assert Analysts.open(settings, sqlite_store).forecasts.latest("alpha").plugin_id == "alpha"
    assert sqlite_store.detector_states.load("alpha")["samples"] == 720
