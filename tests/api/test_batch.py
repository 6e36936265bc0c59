"""batch-analysis: a background job over worker processes; one plugin's failure is reported and
does not stop the others."""

from __future__ import annotations

import httpx
import pytest

from .test_forecasts import push, synthetic_plugin, wait_job


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.slow
def test_batch_reports_each_plugin_and_survives_a_failure(api: httpx.Client) -> None:
    push(api, "alpha", synthetic_plugin(5, seed=1))
    push(api, "beta", synthetic_plugin(5, seed=2))
    push(api, "tiny", synthetic_plugin(0.2, seed=3))
    r = api.post("/batch-analysis", json={"analyses": ["train", "forecast", "detect"]})
    assert r.status_code == 202 and r.json()["plugins"] == 3
    job = wait_job(api, r.json()["job_id"], timeout=300)
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["workers"] >= 2 and job["progress"] == 1.0
    assert result["failed"] == ["tiny"]
    assert "insufficient data" in result["results"]["tiny"]["error"]
    for name in ("alpha", "beta"):
        plugin = result["results"][name]
        assert plugin["ok"] and "cpu_percent" in plugin["trained"] and plugin["forecast"]["cpu_percent"]["peak_24h"] > 0
        assert plugin["anomaly_status"] in ("normal", "anomalous")
    assert api.get("/predict/alpha").status_code == 200


def test_batch_refuses_unknown_plugins_and_analyses(api: httpx.Client) -> None:
    push(api, "alpha", synthetic_plugin(0.1))
    r = api.post("/batch-analysis", json={"plugins": ["alpha", "ghost"]})
    assert r.status_code == 404 and "ghost" in r.json()["message"]
    r = api.post("/batch-analysis", json={"analyses": ["divine"]})
    assert r.status_code == 422
