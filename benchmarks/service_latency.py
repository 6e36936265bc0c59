"""Latency of the service's real-time answers over HTTP, and the detector's memory per plugin.

    python benchmarks/service_latency.py [--samples 500] [--days 14]

Starts `plugin-ai-analytics serve` on a fresh SQLite database, pushes a synthetic plugin's
history (all six metrics, 5-minute steps), trains it, then measures:
- push → verdict: one new sample per POST; the response carries the anomaly verdict (the sample
  was scored and any event opened or extended before the reply), p50/p99 over --samples pushes;
- predict: GET /predict right after a new sample (recomputed) and when nothing changed (stored);
- detector state: bytes of the persisted per-plugin detector (JSON) after warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import start_server  # noqa: E402


def synthetic(days: float, end_s: int, seed: int = 5) -> list[dict]:
    rng = np.random.default_rng(seed)
    n = int(days * 288)
    t = np.arange(n)
    load = 300 + 200 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 15, n)
    return [
        {
            "timestamp": end_s - (n - 1 - i) * 300,
            "cpu_percent": float(np.clip(8 + 0.08 * load[i] + rng.normal(0, 1), 0, 400)),
            "memory_mb": float(900 + 10 * np.sin(2 * np.pi * i / 36) + rng.normal(0, 3)),
            "response_time_ms": float(25 + 0.03 * load[i] + rng.normal(0, 1)),
            "error_rate": float(np.clip(0.002 + rng.normal(0, 0.0004), 0, 1)),
            "request_count": int(max(0, load[i])),
            "active_users": int(max(0, load[i] / 12)),
        }
        for i in range(n)
    ]


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--days", type=float, default=14)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="latency-bench-")
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": f"{tmp}/data",
        "AI_ANALYTICS_LOG_DIR": f"{tmp}/logs",
        "AI_ANALYTICS_LOG_LEVEL": "WARNING",
        "AI_ANALYTICS_INSECURE": "true",  # loopback only; benchmarks/retention.py pushes with a token
    }
    proc, url = start_server(env, tmp)
    try:
        client = httpx.Client(base_url=url, timeout=120)
        now = int(time.time()) // 300 * 300
        start = now - args.samples * 300
        history = synthetic(args.days, start)
        for i in range(0, len(history), 5000):
            client.post("/collect-metrics/bench", json={"samples": history[i : i + 5000]}).raise_for_status()
        client.get("/detect-anomalies/bench").raise_for_status()  # warm the detector on the history
        client.post("/train-models/bench").raise_for_status()
        while True:
            jobs = client.get("/jobs").json()["jobs"]
            if jobs and jobs[0]["status"] in ("succeeded", "failed"):
                assert jobs[0]["status"] == "succeeded", jobs[0]
                break
            time.sleep(0.5)
        live = synthetic(args.days + args.samples / 288, now, seed=5)[-args.samples :]
        push, fresh_predict, stored_predict, alerts = [], [], [], 0
        for i, sample in enumerate(live):
            if i % 100 == 50:  # an incident now and then, so events open and extend too
                sample = {**sample, "error_rate": 0.3, "response_time_ms": sample["response_time_ms"] * 6}
            t0 = time.perf_counter()
            r = client.post("/collect-metrics/bench", json=[sample])
            push.append(time.perf_counter() - t0)
            detection = r.json().get("detection") or {}
            assert "score" in detection, r.text
            alerts += len(detection.get("alerts", []))
            if i % 10 == 0:
                t0 = time.perf_counter()
                client.get("/predict/bench").raise_for_status()
                fresh_predict.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                client.get("/predict/bench").raise_for_status()
                stored_predict.append(time.perf_counter() - t0)
        client.get("/system-status")  # nothing to wait for; the state is flushed at shutdown
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    db = sqlite3.connect(f"{tmp}/data/analytics.db")
    state_bytes = db.execute("SELECT length(state) FROM detector_states WHERE plugin_id='bench'").fetchone()[0]
    print(
        f"machine: {os.cpu_count()} cores; history {args.days:g} days x 6 metrics at 5 min; {args.samples} live pushes"
    )
    print(
        json.dumps(
            {
                "push_to_verdict_ms": {"p50": pct(push, 50), "p99": pct(push, 99), "max": pct(push, 100)},
                "alerts_opened": alerts,
                "predict_after_new_sample_ms": {"p50": pct(fresh_predict, 50), "p99": pct(fresh_predict, 99)},
                "predict_unchanged_ms": {"p50": pct(stored_predict, 50), "p99": pct(stored_predict, 99)},
                "detector_state_bytes": state_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
