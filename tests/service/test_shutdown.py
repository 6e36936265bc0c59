"""SIGTERM with 1,000 queued jobs (issue 16 row 6: ~860 queued train-models and the server had not
exited after 120 s): a real server process exits within 10 s, and every job that had not ended is
recorded ``cancelled``, none left ``queued`` or ``running`` — the two running batch analyses (and
their worker processes) included."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from plugin_ai_analytics.store import Store

from ..conftest import AUTH, served
from .conftest import recent_end, rows_of, synthetic_plugin

PLUGINS = 1000


@pytest.mark.slow
def test_sigterm_with_1000_queued_jobs_exits_within_10_s_and_records_them_cancelled(tmp_path: Path) -> None:
    db = tmp_path / "data" / "analytics.db"
    store = Store(f"sqlite:///{db}")
    # Every plugin has 50 h of history (48 h are needed): each training is real work, so the
    # queue cannot drain while the jobs are being submitted.
    rows = rows_of("p", synthetic_plugin(50 / 24, end=recent_end(0)))
    for begin in range(0, PLUGINS, 50):
        store.metrics.insert_group([(f"p{i:04d}", rows) for i in range(begin, begin + 50)])
    store.close()
    with served(tmp_path, AI_ANALYTICS_CPU_CORES="2", AI_ANALYTICS_JOB_QUEUE_LIMIT=str(PLUGINS)) as (proc, url):
        with httpx.Client(timeout=30, headers=AUTH) as client:

            def train(i: int) -> int:
                return client.post(f"{url}/train-models/p{i:04d}").status_code

            # Two batch analyses of every plugin first: they hold both workers (minutes of work,
            # in worker processes) whatever a training costs, so the trainings behind them wait.
            for _ in range(2):
                assert client.post(f"{url}/batch-analysis", json={}).status_code == 202
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(train, range(PLUGINS)))
            assert codes.count(202) == PLUGINS
            status = client.get(url + "/system-status").json()
        waiting = status["executor"]["queue_depth"]
        assert waiting >= PLUGINS + 2  # and the scheduled tasks waiting behind them
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        took = time.monotonic() - began
    assert took <= 10, f"exited {took:.1f} s after SIGTERM"
    store = Store(f"sqlite:///{db}")
    try:
        counts = store.jobs.counts()
        batches = [j["status"] for j in store.jobs.recent(limit=PLUGINS + 10) if j["kind"] == "batch_analysis"]
    finally:
        store.close()
    assert counts == {"cancelled": PLUGINS + 2}, counts  # none left queued or running, none ran
    assert batches == ["cancelled", "cancelled"]
    print(f"SIGTERM with {waiting} jobs queued or running: exited in {took:.1f} s; jobs {counts}")
