"""The dashboard's aggregates over real HTTP, on SQLite and PostgreSQL: one overview row per
plugin with its health, and the documented rules behind it (forecast crossing a limit, stale
data, no data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from plugin_ai_analytics.service.health import forecast_risks

from .test_forecasts import push, synthetic_plugin, wait_job


def test_overview_folds_anomalies_risk_accuracy_and_freshness_into_health(api: httpx.Client) -> None:
    # A slow memory leak (synthetic_plugin grows 0.05 MiB per 5 minutes from 800 MiB): after
    # 3 days it is near 843 MiB, so the forecast of the next 24 h is above an 840 MiB limit.
    api.post("/plugins", json={"plugin_id": "leaky", "memory_limit_mb": 840, "interval_seconds": 300})
    push(api, "leaky", synthetic_plugin(3))
    api.post("/plugins", json={"plugin_id": "ghost", "name": "never sent anything"})
    old = datetime.now(UTC) - timedelta(days=2)
    push(api, "old", synthetic_plugin(1, end=old))
    job = wait_job(api, api.post("/train-models/leaky").json()["job_id"])
    assert job["status"] == "succeeded", job

    r = api.get("/dashboard/overview")
    assert r.status_code == 200
    body = r.json()
    rows = {p["plugin_id"]: p for p in body["plugins"]}
    assert set(rows) == {"leaky", "ghost", "old"}

    leaky = rows["leaky"]
    assert leaky["forecast"]["risk"] == "high"
    risk = next(x for x in leaky["forecast"]["risks"] if x["metric"] == "memory_mb")
    assert risk["kind"] == "limit" and risk["limit"] == 840 and risk["value"] >= 840
    assert risk["at"] is not None and risk["at"] > leaky["last_sample"]
    assert leaky["health"] == "critical" and "forecast_crosses_limit" in leaky["reasons"]
    assert leaky["accuracy"]["trained_metrics"] == 6 and leaky["accuracy"]["backtest_percent"] > 50
    assert leaky["accuracy"]["tracked_percent"] is None  # no forecast has come due yet
    assert leaky["samples"] == 3 * 288 and not leaky["stale"]
    assert set(leaky["open_anomalies"]) == {"High", "Medium", "Low"}  # as the detector found them

    assert rows["ghost"]["health"] == "no_data" and rows["ghost"]["last_sample"] is None
    assert rows["old"]["stale"] and rows["old"]["health"] != "ok" and "stale_data" in rows["old"]["reasons"]
    assert rows["old"]["forecast"]["risk"] is None  # never trained: no forecast, not "no risk"
    assert sum(body["health_counts"].values()) == 3 and body["health_counts"]["no_data"] == 1

    one = api.get("/dashboard/plugins/leaky").json()
    assert one["health"] == "critical"
    assert set(one["models"]) == set(job["result"]["trained"])
    assert 0 < one["models"]["memory_mb"]["backtest"]["accuracy"] <= 100
    assert api.get("/dashboard/plugins/nobody").status_code == 404


def test_a_rising_error_rate_forecast_is_a_medium_risk() -> None:
    forecast = {"error_rate": {"peak": 0.012, "upper_95": 0.02, "early_mean": 0.002, "late_mean": 0.01}}
    risks = forecast_risks(forecast, {}, lambda *_: None)
    assert risks == [
        {
            "metric": "error_rate",
            "kind": "rising",
            "level": "medium",
            "value": 0.01,
            "limit": None,
            "at": None,
            "from_value": 0.002,
        }
    ]
    flat = {"error_rate": {"peak": 0.003, "upper_95": 0.004, "early_mean": 0.002, "late_mean": 0.0025}}
    assert forecast_risks(flat, {}, lambda *_: None) == []
