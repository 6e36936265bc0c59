"""train-models (a job) and predict over real HTTP: enough data gives calibrated forecasts of
every metric; too little gives a 409 that says how much more is needed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import update

from plugin_ai_analytics.store import tables

STEP = timedelta(minutes=5)


def synthetic_plugin(days: float, *, end: datetime | None = None, seed: int = 7) -> list[dict]:
    """A plugin with a daily load cycle that drives CPU, latency and errors, and a slow leak."""
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    n = int(days * 288)
    t = np.arange(n)
    load = 200 + 150 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 10, n)
    samples = []
    for i in range(n):
        samples.append(
            {
                "timestamp": (end - (n - 1 - i) * STEP).isoformat(),
                "cpu_percent": float(np.clip(10 + 0.1 * load[i] + rng.normal(0, 1), 0, 400)),
                "memory_mb": float(800 + 0.05 * i + rng.normal(0, 2)),
                "response_time_ms": float(30 + 0.05 * load[i] + rng.normal(0, 1)),
                "error_rate": float(np.clip(0.002 + 0.00001 * load[i] + rng.normal(0, 0.0005), 0, 1)),
                "request_count": int(max(0, load[i])),
                "active_users": int(max(0, load[i] / 10)),
            }
        )
    return samples


def push(api: httpx.Client, plugin: str, samples: list[dict]) -> None:
    for i in range(0, len(samples), 5000):
        api.post(f"/collect-metrics/{plugin}", json=samples[i : i + 5000]).raise_for_status()


def wait_job(api: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_too_little_data_is_a_409_naming_the_hours_needed(api: httpx.Client, service) -> None:
    push(api, "young", synthetic_plugin(0.25))
    r = api.post("/train-models/young")
    assert r.status_code == 202
    job = wait_job(api, r.json()["job_id"])
    assert job["status"] == "failed"
    assert "need" in job["error"] and "more hours" in job["error"]
    r = api.get("/predict/young")
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "not_trained" and body["needed_hours"] > 0 and "train-models/young" in body["message"]
    assert f"{body['needed_hours']:g} more hours" in body["message"]
    # expected, answered and explained: a warning in the log, not an ERROR (issue 10 #15)
    log = Path(service.log_path).read_text()
    assert "WARNING op=train_models plugin=young" in log
    assert not [line for line in log.splitlines() if " ERROR " in line and "plugin=young" in line]


def test_trained_plugin_gets_24h_forecasts_of_all_six_metrics(api: httpx.Client, service) -> None:
    push(api, "shop", synthetic_plugin(5))
    r = api.post("/train-models/shop")
    job = wait_job(api, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert set(job["result"]["trained"]) == {
        "cpu_percent",
        "memory_mb",
        "response_time_ms",
        "error_rate",
        "request_count",
        "active_users",
    }
    forecast = api.get("/predict/shop").json()
    assert forecast["horizon_hours"] == 24
    for metric, entry in forecast["metrics"].items():
        points = entry["forecast"]
        assert len(points) == 288, metric
        for p in points:
            assert p["lower_95"] <= p["lower_80"] <= p["value"] <= p["upper_80"] <= p["upper_95"]
            assert 0 <= p["confidence"] <= 100
        if metric == "error_rate":
            assert all(0 <= p["lower_95"] and p["upper_95"] <= 1 for p in points)
    # The daily cycle is learnt: the forecast of request_count swings like the history does.
    values = [p["value"] for p in forecast["metrics"]["request_count"]["forecast"]]
    assert max(values) - min(values) > 150


def test_stored_predictions_are_scored_when_actuals_arrive(api: httpx.Client, service) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    history = synthetic_plugin(5, end=end)
    push(api, "tracked", history)
    service.train_models_now("tracked")
    made = api.get("/predict/tracked").json()
    first = made["metrics"]["request_count"]["forecast"][:12]  # the next hour
    actual = [{"timestamp": p["timestamp"], "request_count": int(round(p["value"])) + 5} for p in first]
    push(api, "tracked", actual)
    assert service.tracking.score_due() >= 12
    acc = api.get("/forecast-accuracy/tracked").json()["metrics"]["request_count"]
    assert acc["scored_predictions"] >= 12
    assert 90 < acc["accuracy_percent"] < 100


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_tampered_model_is_refused(api: httpx.Client, service) -> None:
    push(api, "tampered", synthetic_plugin(5))
    service.train_models_now("tampered")
    with service.store.engine.begin() as conn:
        conn.execute(
            update(tables.models)
            .where(tables.models.c.plugin_id == "tampered", tables.models.c.metric == "cpu_percent")
            .values(state='{"format": "evil"}')
        )
    push(api, "tampered", [{"timestamp": datetime.now(UTC).isoformat(), "cpu_percent": 50.0}])
    body = api.get("/predict/tampered").json()
    assert "fails its checksum" in body["metrics"]["cpu_percent"]["error"]
    assert len(body["metrics"]["memory_mb"]["forecast"]) == 288
