"""The ingestion write path stores the same thing on both databases: PostgreSQL goes through
``COPY`` into a staging table and one upsert, SQLite through ``executemany``; duplicates merge
(a NULL keeps the stored value), re-sends are counted as merged, and the staging table never
leaks rows from one batch, transaction or connection into another."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin_ai_analytics.domain import METRIC_NAMES
from plugin_ai_analytics.store import Store

T0 = 1_790_000_000_000


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.close()


def row(i: int, **values: float | None) -> tuple:
    base = {name: None for name in METRIC_NAMES}
    base.update(values)
    return (T0 + i * 10_000, *(base[name] for name in METRIC_NAMES))


def test_new_rows_then_a_partial_resend_merges_without_erasing(store: Store) -> None:
    first = [row(i, cpu_percent=float(i), memory_mb=100.0 + i) for i in range(50)]
    assert store.metrics.insert("p", first) == (50, 0)
    # Ten of them again with only memory set (cpu NULL) plus five new instants.
    again = [row(i, memory_mb=900.0) for i in range(40, 55)]
    assert store.metrics.insert("p", again) == (5, 10)
    rows = store.metrics.rows("p")
    assert len(rows) == 55
    by_ts = {r[0]: r for r in rows}
    cpu, memory = METRIC_NAMES.index("cpu_percent") + 1, METRIC_NAMES.index("memory_mb") + 1
    assert by_ts[T0 + 45 * 10_000][cpu] == 45.0  # the NULL kept the stored CPU
    assert by_ts[T0 + 45 * 10_000][memory] == 900.0  # the new memory won
    assert by_ts[T0 + 39 * 10_000][memory] == 139.0  # untouched outside the re-send
    assert by_ts[T0 + 52 * 10_000][cpu] is None
    # Another plugin with the same instants is a different series.
    assert store.metrics.insert("q", first[:3]) == (3, 0)
    assert store.metrics.extent("p")["samples"] == 55


def test_every_batch_stores_only_itself(store: Store) -> None:
    """Many batches on pooled connections (staging table reused): each one's counts are its own."""
    for k in range(12):
        batch = [row(k * 100 + i, cpu_percent=float(k)) for i in range(100)]
        assert store.metrics.insert(f"p{k % 3}", batch) == (100, 0)
    assert sum(store.metrics.extent(f"p{k}")["samples"] for k in range(3)) == 1200
    assert store.metrics.insert("p0", [row(i, cpu_percent=1.0) for i in range(0, 100)]) == (0, 100)


def test_concurrent_batches_of_one_plugin_neither_lose_nor_duplicate(store: Store) -> None:
    errors: list[BaseException] = []

    def push(k: int) -> None:
        try:
            for j in range(5):
                start = (k * 5 + j) * 200
                store.metrics.insert("shared", [row(start + i, cpu_percent=float(k)) for i in range(200)])
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors
    assert store.metrics.extent("shared")["samples"] == 4 * 5 * 200


def test_the_sqlite_writers_group_commit_merges_and_counts_rewrites_like_insert(tmp_path: Path) -> None:
    # insert_group is the SQLite writer's path (PostgreSQL writes through insert)
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    first = [row(i, memory_mb=100.0 + i) for i in range(20)]
    assert store.metrics.insert_group([("p", first), ("q", first[:5]), ("r", [])]) == [(20, 0), (5, 0), (0, 0)]
    assert store.metrics.rewrites("p") == 0
    # a resend merges, and predict's kept window must learn that stored samples changed
    assert store.metrics.insert_group([("p", [row(i, memory_mb=7.0) for i in range(15, 25)])]) == [(5, 5)]
    assert store.metrics.rewrites("p") == 1 and store.metrics.rewrites("q") == 0
    assert store.metrics.extent("p")["samples"] == 25
    store.close()


def test_a_resend_inside_the_same_transaction_counts_as_merged(postgres_url: str) -> None:
    """PostgreSQL counts merges from the upserted rows' xmax; a row this very transaction inserted
    and then updates must count as merged too (two batches of one group commit)."""
    from plugin_ai_analytics.store.database import copy_upsert_metrics  # the COPY path is PostgreSQL's

    s = Store(postgres_url)
    try:
        with s.engine.begin() as conn:
            assert copy_upsert_metrics(conn, "p", [row(i, cpu_percent=1.0) for i in range(10)]) == 0
            assert copy_upsert_metrics(conn, "p", [row(i, memory_mb=2.0) for i in range(5, 15)]) == 5
        assert s.metrics.insert("p", [row(i, cpu_percent=3.0) for i in range(12, 20)]) == (5, 3)
        assert s.metrics.extent("p")["samples"] == 20
    finally:
        s.close()


def test_a_rolled_back_first_batch_does_not_leave_the_connection_without_its_staging_table(
    postgres_url: str,
) -> None:
    """The staging table is created once per connection, inside the batch's transaction: a
    rollback takes it back (DDL is transactional), and the next batch there must create it again."""
    from plugin_ai_analytics.store.database import copy_upsert_metrics  # the COPY path is PostgreSQL's

    s = Store(postgres_url)
    try:
        with s.engine.connect() as conn:
            with conn.begin() as tx:
                copy_upsert_metrics(conn, "p", [row(i, cpu_percent=1.0) for i in range(3)])
                tx.rollback()
            with conn.begin():  # the same connection: its staging table was rolled back
                assert copy_upsert_metrics(conn, "p", [row(i, cpu_percent=2.0) for i in range(5)]) == 0
        assert s.metrics.extent("p")["samples"] == 5
    finally:
        s.close()


def test_a_read_rolled_back_on_a_connection_keeps_its_committed_staging_table(postgres_url: str) -> None:
    """Reads end in a rollback; that must not make the next batch on the connection create the
    staging table again (the note is dropped only by the rollback of the creating transaction)."""
    from plugin_ai_analytics.store.database import copy_upsert_metrics  # the COPY path is PostgreSQL's

    s = Store(postgres_url)
    try:
        with s.engine.connect() as conn:
            with conn.begin():
                copy_upsert_metrics(conn, "p", [row(i, cpu_percent=1.0) for i in range(3)])
            assert conn.connection.info["metrics_staging"] == "committed"
            conn.exec_driver_sql("SELECT 1")
            conn.rollback()
            assert conn.connection.info["metrics_staging"] == "committed"
    finally:
        s.close()
