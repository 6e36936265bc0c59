"""An acknowledged write survives ``kill -9`` of the server (SQLite WAL on the embedded default)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from plugin_ai_analytics.store import Store

from ..conftest import AUTH, served


def test_acknowledged_batch_survives_kill_9(tmp_path: Path) -> None:
    with served(tmp_path) as (proc, url):
        samples = [{"timestamp": 1_790_000_000 + i, "cpu_percent": float(i % 100)} for i in range(5000)]
        r = httpx.post(url + "/collect-metrics/durable", json=samples, timeout=30, headers=AUTH)
        assert r.status_code == 200 and r.json()["stored"] == 5000
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no checkpoint: only what was committed
        proc.wait(timeout=10)
    store = Store(f"sqlite:///{tmp_path / 'data' / 'analytics.db'}")
    try:
        assert store.metrics.extent("durable")["samples"] == 5000
    finally:
        store.close()
