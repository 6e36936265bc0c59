"""The one writer of pushed samples on SQLite (issue 16): concurrent pushes are committed in
groups by one thread, every acknowledged sample is stored exactly once, a failing batch fails
alone, and a push that cannot be committed in time is refused (503), not left hanging."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin_ai_analytics.errors import Overloaded
from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.service.writer import MetricWriter
from plugin_ai_analytics.store import Store

from ..conftest import make_settings

START = 1_790_000_000


@pytest.fixture
def sqlite_service(tmp_path: Path) -> Iterator[AnalyticsService]:
    svc = AnalyticsService(make_settings(tmp_path, f"sqlite:///{tmp_path / 'analytics.db'}"))
    svc.start(background=False)
    yield svc
    svc.close()


def batch(offset: int, size: int = 200) -> list[dict]:
    return [{"timestamp": START + offset + i, "cpu_percent": float(i % 90), "request_count": i} for i in range(size)]


def test_concurrent_pushes_are_stored_once_through_the_one_writer(sqlite_service: AnalyticsService) -> None:
    assert sqlite_service.writer._single  # the SQLite path, not direct writes
    results: list[tuple[str, int, int]] = []
    errors: list[BaseException] = []

    def pusher(n: int) -> None:
        try:
            for k in range(10):
                # each thread pushes 10 batches to its own plugin and 10 to a shared one, with overlaps:
                # the shared plugin's batches repeat timestamps, which must merge, never duplicate
                own = sqlite_service.ingest_samples(f"p{n}", batch(k * 200))
                shared = sqlite_service.ingest_samples("shared", batch((k % 5) * 200))
                results.append((own.plugin_id, own.stored, own.merged))
                results.append((shared.plugin_id, shared.stored, shared.merged))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 160
    metrics = sqlite_service.store.metrics
    for n in range(8):
        assert metrics.extent(f"p{n}")["samples"] == 2000
    assert metrics.extent("shared")["samples"] == 1000  # 5 distinct batches of 200, each pushed 16 times
    shared = [(s, m) for pid, s, m in results if pid == "shared"]
    assert sum(s for s, _ in shared) == 1000 and sum(m for _, m in shared) == 80 * 200 - 1000
    # the writer committed groups of batches, not one transaction per request
    writer = sqlite_service.writer
    assert writer.batches == 160 and 0 < writer.groups <= writer.batches


def test_a_failing_batch_fails_alone_in_its_group(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    writer = MetricWriter(store.metrics, single_writer=True, timeout=10)
    good = [(START * 1000 + i, *([1.0] + [None] * 6)) for i in range(10)]
    bad = [(START * 1000, "not", "a", "row")]  # wrong arity: the driver refuses it
    outcome: dict[str, object] = {}

    def push(name: str, plugin: str, rows: list) -> None:
        try:
            outcome[name] = writer.write(plugin, rows)
        except Exception as exc:
            outcome[name] = exc

    threads = [threading.Thread(target=push, args=(f"g{i}", f"good{i}", good)) for i in range(4)]
    threads.insert(2, threading.Thread(target=push, args=("bad", "bad", bad)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    writer.close()
    assert isinstance(outcome["bad"], Exception)
    assert [outcome[f"g{i}"] for i in range(4)] == [(10, 0)] * 4
    assert store.metrics.extent("bad")["samples"] == 0
    store.close()


def test_a_push_the_writer_cannot_commit_in_time_is_refused_with_retry_after(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    writer = MetricWriter(store.metrics, single_writer=True, timeout=0.5)
    rows = [(START * 1000 + i, *([1.0] + [None] * 6)) for i in range(10)]
    with store.engine.connect() as blocker:  # another writer holds SQLite's one write lock
        blocker.exec_driver_sql("BEGIN IMMEDIATE")
        with pytest.raises(Overloaded) as refused:
            writer.write("late", rows)
        blocker.exec_driver_sql("ROLLBACK")
    assert refused.value.status_code == 503 and refused.value.retry_after > 0
    assert "resend" in refused.value.message
    writer.close()
    store.close()
