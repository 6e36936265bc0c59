"""analytics-summary: one page that ties state, trends, forecasts, anomalies and quality together."""

from __future__ import annotations

import httpx
import pytest

from .test_forecasts import push, synthetic_plugin


def test_summary_of_a_trained_plugin(api: httpx.Client, service) -> None:
    samples = synthetic_plugin(8)
    push(api, "shop", samples)
    service.train_models_now("shop")
    summary = api.get("/analytics-summary/shop").json()
    assert summary["samples"] == len(samples)
    assert summary["current"]["memory_mb"]["value"] == pytest.approx(samples[-1]["memory_mb"])
    memory = summary["trends"]["memory_mb"]
    # the synthetic plugin leaks 0.05 MiB per 5-minute sample = 14.4 MiB/day
    assert memory["direction"] == "rising"
    assert memory["slope_per_day"] == pytest.approx(14.4, rel=0.1)
    requests = summary["trends"]["request_count"]["daily_pattern"]
    assert len(requests["by_hour_utc"]) == 24 and requests["peak_to_trough"] > 3
    assert set(summary["forecasts"]) >= {"cpu_percent", "request_count"}
    assert summary["model_accuracy"]["models"]["cpu_percent"]["version"] == 1
    quality = summary["data_quality"]
    assert quality["gaps_7d"] == 0 and quality["step_seconds"] == 300 and quality["rejected_batches_24h"] == 0
    assert "open" in summary["anomalies"]


def test_summary_reports_gaps(api: httpx.Client) -> None:
    samples = synthetic_plugin(2)
    push(api, "gappy", samples[:200] + samples[260:])  # a five-hour hole
    quality = api.get("/analytics-summary/gappy").json()["data_quality"]
    assert quality["gaps_7d"] == 1 and quality["longest_gap_minutes"] == pytest.approx(305)
