"""The scaled-out deployment, run for real on this machine: two Celery workers (one process each,
distinct hostnames) and two API replicas on one PostgreSQL database and a Redis broker.

- a batch analysis of 200 plugins finishes with a result for every plugin, the work split
  across both workers, although one worker is killed with SIGKILL in the middle; no part has two
  results and no analysis stored a row twice;
- pushes of one plugin alternating between the two replicas open exactly the events the same
  pushes open through one process on a database of its own;
- periodic work comes from the beat process only (the replicas' schedulers run none of it), once
  per period, and a second beat refuses to start.
"""

from __future__ import annotations

import importlib.util
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.store import Store
from plugin_ai_analytics.store import tables as t

from ..conftest import REPO, fresh_database, make_settings
from .conftest import broker_url, client

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PLUGINS = 200
HISTORY_DAYS = 1.0  # 288 samples each: enough to detect and advise on, quick to analyse
STEP_MS = 300_000


def _bench_batch():
    """benchmarks/batch.py's generator of plugin histories (daily cycles, leaks, incidents)."""
    spec = importlib.util.spec_from_file_location("bench_batch", REPO / "benchmarks" / "batch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wait(predicate, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def test_batch_splits_over_two_workers_and_survives_a_killed_worker(cluster_factory) -> None:
    bench = _bench_batch()
    with fresh_database() as database_url:
        store = Store(database_url)
        try:
            _batch_with_a_killed_worker(cluster_factory, database_url, store, bench)
        finally:
            store.close()


def _batch_with_a_killed_worker(cluster_factory, database_url: str, store: Store, bench) -> None:
    end_ms = int(time.time() // 300 * 300 * 1000)
    ids = [f"scale-{i:03d}" for i in range(PLUGINS)]
    for i, plugin_id in enumerate(ids):
        store.metrics.insert(plugin_id, bench.plugin_rows(i, HISTORY_DAYS, end_ms))
    # a task delivered to the killed worker goes out again 8 s after it was taken
    cluster = cluster_factory(database_url, broker_url(), AI_ANALYTICS_TASK_VISIBILITY_SECONDS="8")
    cluster.worker("w1")
    cluster.worker("w2")
    first, second = cluster.api("api1"), cluster.api("api2")
    assert sorted(cluster.wait_for_workers(2)) == ["w1@test", "w2@test"]

    with client(first) as api:
        queued = api.post("/batch-analysis", json={"plugins": ids, "analyses": ["detect", "suggest"]})
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]

    def workers_seen() -> set[str]:
        return {r["worker"].split(":")[0] for r in store.batch_parts.results(job_id)}

    # both workers at work, the batch far from done: kill -9 one of them mid-batch
    _wait(lambda: len(workers_seen()) == 2 and store.batch_parts.finished(job_id) >= 20, 90, "both workers")
    done_before = store.batch_parts.finished(job_id)
    assert done_before < PLUGINS, "the batch ended before a worker could be killed: make it larger"
    cluster.kill("w1")
    killed_at = int(time.time() * 1000)

    with client(second) as api:  # any replica answers for any job
        job = _wait(lambda: _finished(api.get(f"/jobs/{job_id}").json()), 150, "the batch to finish")
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["plugins"] == PLUGINS
    assert sorted(result["results"]) == ids  # a result for every plugin
    assert result["succeeded"] == PLUGINS, {p: result["results"][p] for p in result["failed"][:3]}
    hosts = {name.split(":")[0] for name in result["parts_by_worker"]}
    assert len(hosts) == 2 and all(n > 0 for n in result["parts_by_worker"].values()), result["parts_by_worker"]
    # the surviving worker finished what the killed one left, including the task it held
    with store.engine.connect() as conn:
        p = t.batch_parts.c
        after_kill = conn.execute(
            select(func.count()).select_from(t.batch_parts).where(p.job_id == job_id, p.updated_at > killed_at)
        ).scalar_one()
        parts = conn.execute(select(func.count()).select_from(t.batch_parts)).scalar_one()
        batch_jobs = conn.execute(
            select(func.count()).select_from(t.jobs).where(t.jobs.c.kind == "batch_analysis")
        ).scalar_one()
        states = conn.execute(select(func.count()).select_from(t.detector_states)).scalar_one()
        findings = conn.execute(
            select(t.suggestions.c.plugin_id, t.suggestions.c.finding).order_by(t.suggestions.c.plugin_id)
        ).all()
        a = t.anomalies.c
        open_events = dict(
            conn.execute(select(a.plugin_id, func.count()).where(a.state == "open").group_by(a.plugin_id)).all()
        )
    assert after_kill > 0
    # one part per (job, plugin) task id, one job, one detector per plugin
    assert (parts, batch_jobs, states) == (PLUGINS, 1, PLUGINS)
    # every finding stored once, and exactly those the parts reported
    stored: dict[str, list[str]] = {}
    for plugin_id, finding in findings:
        stored.setdefault(plugin_id, []).append(finding)
    reported = {p: sorted(r["suggestions"]) for p, r in result["results"].items() if r["suggestions"]}
    assert {p: sorted(f) for p, f in stored.items()} == reported
    # every open event stored once: as many rows as the detection reported
    assert {p: r["open_anomalies"] for p, r in result["results"].items() if r["open_anomalies"]} == open_events
    assert sum(open_events.values()) > 0


def _finished(job: dict) -> dict | None:
    return job if job["status"] in ("succeeded", "failed") else None


def test_pushes_through_two_replicas_open_the_events_one_process_opens(cluster_factory, tmp_path: Path) -> None:
    bench = _bench_batch()
    end_ms = int(time.time() // 300 * 300 * 1000) - 12 * STEP_MS * 4
    history = bench.plugin_rows(3, 3, end_ms)
    # four hours more of the same series, with an incident planted in the third hour
    later = bench.continuation(3, 3, end_ms, 48, incident=False)
    incident = bench.continuation(3, 3, end_ms, 48, incident=True)
    fresh = later[:24] + incident[24:36] + later[36:]
    batches = [fresh[i : i + 3] for i in range(0, len(fresh), 3)]

    def body(rows: list[tuple]) -> dict:
        names = ("cpu_percent", "memory_mb", "response_time_ms", "response_time_p95_ms", "error_rate")
        names += ("request_count", "active_users")
        return {
            "samples": [
                {
                    "timestamp": datetime.fromtimestamp(r[0] / 1000, UTC).isoformat(),
                    **{n: v for n, v in zip(names, r[1:], strict=True)},
                }
                for r in rows
            ]
        }

    with fresh_database() as replicated_url, fresh_database() as alone_url:
        cluster = cluster_factory(replicated_url, broker_url())
        urls = [cluster.api("api1"), cluster.api("api2")]
        apis = [client(u) for u in urls]
        alone = AnalyticsService(make_settings(tmp_path / "alone", alone_url))  # one process, embedded mode
        try:
            for target in (apis[0], alone):
                _push(target, "shop", body(history))
                _detect(target, "shop")
            for i, batch in enumerate(batches):
                answer = _push(apis[i % 2], "shop", body(batch))  # alternating replicas
                _push(alone, "shop", body(batch))
                assert answer["detection"] is not None, "a replica scored the push in its request"
            _detect(apis[1], "shop")
            _detect(alone, "shop")
            replicated = _events(Store(replicated_url, run_migrations=False))
            single = _events(alone.store)
        finally:
            alone.close()
            for api in apis:
                api.close()
    assert replicated == single
    assert any(e[4] in ("High", "Medium") for e in single), single  # the planted incident opened an event


def _push(target, plugin_id: str, payload: dict) -> dict:
    if isinstance(target, AnalyticsService):
        import orjson

        return target.collect_metrics(plugin_id, orjson.dumps(payload)).model_dump(mode="json")
    answer = target.post(f"/collect-metrics/{plugin_id}", json=payload)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _detect(target, plugin_id: str) -> None:
    if isinstance(target, AnalyticsService):
        target.detect_anomalies(plugin_id)
    else:
        assert target.get(f"/detect-anomalies/{plugin_id}").status_code == 200


def _events(store: Store) -> list[tuple]:
    a = t.anomalies.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(a.event_id, a.start_ts, a.end_ts, a.kind, a.severity, a.state, a.metrics, a.score).order_by(
                a.event_id
            )
        ).all()
    store.close()
    return [(*r[:7], round(r[7], 9)) for r in rows]


def test_periodic_work_runs_once_per_period_from_beat_only(cluster_factory) -> None:
    with fresh_database() as database_url:
        cluster = cluster_factory(database_url, broker_url(), AI_ANALYTICS_RETENTION_INTERVAL_SECONDS="2")
        cluster.worker("w1")
        cluster.api("api1")  # a replica with its scheduler on: it must run none of the periodic work
        cluster.wait_for_workers(1)
        store = Store(database_url, run_migrations=False)
        time.sleep(4.5)  # two retention periods
        assert _retention_runs(store) == 0
        cluster.beat("beat")
        _wait(lambda: _retention_runs(store) >= 1, 30, "the first retention run")
        started, runs_then = time.monotonic(), _retention_runs(store)
        second = cluster.beat("beat2")
        assert second.wait(timeout=60) == 2  # refused: one beat per database
        assert "another beat process is running" in cluster.output("beat2")
        time.sleep(max(0.0, 10.5 - (time.monotonic() - started)))
        runs = _retention_runs(store) - runs_then
        elapsed = time.monotonic() - started
        # one run per 2 s period (a run may straddle either end of the window)
        assert abs(runs - elapsed / 2) <= 1.5, (runs, elapsed)
        store.close()


def _retention_runs(store: Store) -> int:
    return len(store.audit.query(action="retention", limit=1000))
