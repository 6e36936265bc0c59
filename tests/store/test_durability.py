"""An acknowledged write survives ``kill -9`` of the server (SQLite WAL on the embedded default)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from plugin_ai_analytics.store import Store

from ..conftest import AUTH, TEST_ADMIN_TOKEN, free_port


def test_acknowledged_batch_survives_kill_9(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": str(tmp_path / "data"),
        "AI_ANALYTICS_LOG_DIR": str(tmp_path),
        "AI_ANALYTICS_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/plugin-ai-analytics"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/system-status", timeout=1, headers=AUTH).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        samples = [{"timestamp": 1_790_000_000 + i, "cpu_percent": float(i % 100)} for i in range(5000)]
        r = httpx.post(url + "/collect-metrics/durable", json=samples, timeout=30, headers=AUTH)
        assert r.status_code == 200 and r.json()["stored"] == 5000
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no checkpoint: only what was committed
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = Store(f"sqlite:///{tmp_path / 'data' / 'analytics.db'}")
    try:
        assert store.metrics.extent("durable")["samples"] == 5000
    finally:
        store.close()
