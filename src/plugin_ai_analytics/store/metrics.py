"""Metric samples: the ingestion write path and every read of them.

One read shape for analysis: rows as tuples ``(ts, *METRIC_NAMES)``, oldest first
(``METRIC_COLUMNS``), whole (``rows``) or streamed in chunks (``chunks``); ``history`` is the
API's page, raw or downsampled in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.engine import Connection

from ..domain import METRIC_NAMES, METRICS
from ..times import now_ms
from . import tables as t
from ._shared import keyset_chunks
from .database import copy_upsert_metrics, insert_ignore, is_sqlite, metrics_upsert_sql, placeholder
from .registry import push_only_row

__all__ = ["METRIC_COLUMNS", "MetricRecords"]

METRIC_COLUMNS: tuple[str, ...] = ("ts", *METRIC_NAMES)
INTEGER_METRICS = frozenset(spec.name for spec in METRICS if spec.integer)


class MetricRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # plugin -> how many of this process's inserts overwrote stored samples: a reader that keeps
        # a plugin's rows (Forecasts' window) re-reads them all when this moved
        self._rewrites: dict[str, int] = {}

    def rewrites(self, plugin_id: str) -> int:
        """How many inserts through this object merged into samples of ``plugin_id`` already stored."""
        return self._rewrites.get(plugin_id, 0)

    def insert(self, plugin_id: str, rows: Sequence[tuple[Any, ...]]) -> tuple[int, int]:
        """Store validated samples atomically; a (plugin, ts) already stored is merged, not duplicated.
        Returns ``(new rows, rows merged into ones already stored)``.

        Each row is ``(ts epoch ms, *values in METRIC_NAMES order)``, timestamps distinct. The
        plugin is registered as push-only on first sight. This is the ingestion hot path, so it
        skips SQL expression objects: SQLite takes the driver's ``executemany`` of one prepared
        statement, PostgreSQL a ``COPY`` into a staging table and one upsert from it.
        """
        if not rows:
            return 0, 0
        with self._engine.begin() as conn:
            conn.execute(insert_ignore(conn, t.plugins, ["plugin_id"]), [push_only_row(plugin_id, now_ms())])
            if not is_sqlite(conn):
                merged = copy_upsert_metrics(conn, plugin_id, rows)
                if merged:
                    self._rewrites[plugin_id] = self._rewrites.get(plugin_id, 0) + 1
                return len(rows) - merged, merged
            return self._insert_sqlite(conn, plugin_id, rows, metrics_upsert_sql(conn))

    def _insert_sqlite(
        self, conn: Connection, plugin_id: str, rows: Sequence[tuple[Any, ...]], upsert_sql: str
    ) -> tuple[int, int]:
        """One batch into SQLite inside the caller's transaction: ``(new rows, merged rows)``; a merge
        is counted in ``rewrites`` (predict's kept window is then read again)."""
        # Raw SQL: SQLAlchemy compiling an IN of 1,000 literals cost more than the count.
        stamps = [row[0] for row in rows]
        existing = (
            "SELECT count(*) FROM metrics WHERE plugin_id = ? AND ts >= ? AND ts <= ? "
            f"AND ts IN ({', '.join('?' * len(stamps))})"
        )
        merged = int(conn.exec_driver_sql(existing, (plugin_id, stamps[0], stamps[-1], *stamps)).scalar_one())
        conn.exec_driver_sql(upsert_sql, [(plugin_id, *row) for row in rows])
        if merged:
            self._rewrites[plugin_id] = self._rewrites.get(plugin_id, 0) + 1
        return len(rows) - merged, merged

    def insert_group(self, batches: Sequence[tuple[str, Sequence[tuple[Any, ...]]]]) -> list[tuple[int, int]]:
        """Store several ``(plugin, rows)`` batches in one transaction (the SQLite writer's group
        commit: one commit and one fsync of the WAL for all); per batch what ``insert`` returns."""
        out: list[tuple[int, int]] = []
        with self._engine.begin() as conn:
            upsert_sql = metrics_upsert_sql(conn)
            for plugin_id, rows in batches:
                if not rows:
                    out.append((0, 0))
                    continue
                conn.execute(insert_ignore(conn, t.plugins, ["plugin_id"]), [push_only_row(plugin_id, now_ms())])
                out.append(self._insert_sqlite(conn, plugin_id, rows, upsert_sql))
        return out

    def history(
        self,
        plugin_id: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        resolution_ms: int | None = None,
        limit: int = 1000,
        offset: int = 0,
        metrics: Sequence[str] = METRIC_NAMES,
    ) -> list[dict[str, Any]]:
        """Samples in ``[start, end)``, oldest first; with ``resolution_ms``, one row per bucket.

        Downsampling happens in SQL: response time and error rate are averaged weighted by the
        request count when it is known (an interval with more requests says more), request
        counts are summed, active users and p95 take the bucket's maximum (a lower bound of
        the true distinct count / percentile), CPU and memory are plain means.
        """
        m = t.metrics.c
        where = _range(plugin_id, start_ms, end_ms)
        if not resolution_ms:
            cols = [m.ts, *(m[name] for name in metrics)]
            q = select(*cols).where(and_(*where)).order_by(m.ts).limit(limit).offset(offset)
        else:
            # ``//`` is integer (floor) division on both dialects for integer operands.
            bucket = ((m.ts // resolution_ms) * resolution_ms).label("ts")
            aggregates = []
            for name in metrics:
                col = m[name]
                if name in ("response_time_ms", "error_rate"):
                    weight = case((col.is_not(None), m.request_count), else_=None)
                    weighted = func.sum(col * m.request_count) / func.nullif(func.sum(weight), 0)
                    aggregates.append(func.coalesce(weighted, func.avg(col)).label(name))
                elif name == "request_count":
                    aggregates.append(func.sum(col).label(name))
                elif name in ("active_users", "response_time_p95_ms"):
                    aggregates.append(func.max(col).label(name))
                else:
                    aggregates.append(func.avg(col).label(name))
            q = (
                select(bucket, func.count().label("samples"), *aggregates)
                .where(and_(*where))
                .group_by(bucket)
                .order_by(bucket)
                .limit(limit)
                .offset(offset)
            )
        with self._engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        counts = [name for name in metrics if name in INTEGER_METRICS]
        for row in rows:  # counts are whole numbers, whatever the column type or the bucket sum
            for name in counts:
                if row[name] is not None:
                    row[name] = int(round(row[name]))
        return rows

    def rows(self, plugin_id: str, *, start_ms: int | None = None) -> list[tuple]:
        """The plugin's samples from ``start_ms`` on as ``METRIC_COLUMNS`` tuples, oldest first.

        The analysis path reads whole windows, so this skips SQL expression objects and row
        wrappers: sqlite3 and psycopg already return tuples, and wrapping 4,000 rows in Row
        objects only to unwrap them cost more than the query.
        """
        mark = placeholder(self._engine)
        sql = f"SELECT {', '.join(METRIC_COLUMNS)} FROM metrics WHERE plugin_id = {mark}"
        params: tuple[Any, ...] = (plugin_id,)
        if start_ms is not None:
            sql += f" AND ts >= {mark}"
            params += (start_ms,)
        sql += " ORDER BY ts"
        with self._engine.connect() as conn:
            rows = conn.exec_driver_sql(sql, params).cursor.fetchall()
        return [tuple(r) for r in rows] if rows and type(rows[0]) is not tuple else rows

    def chunks(
        self, plugin_id: str, *, start_ms: int | None = None, end_ms: int | None = None, chunk: int = 10_000
    ) -> Iterator[list[tuple]]:
        """The samples in ``[start, end)`` as ``METRIC_COLUMNS`` tuples, ``chunk`` at a time
        (keyset paging: constant memory, no connection held between chunks)."""
        m = t.metrics.c
        columns = [m[c] for c in METRIC_COLUMNS]
        return keyset_chunks(self._engine, columns, m.ts, _range(plugin_id, start_ms, end_ms), chunk)

    def recent_levels(self, since_ms: int, plugin_id: str | None = None) -> dict[str, dict[str, float | None]]:
        """Per plugin, over its samples at or after ``since_ms``: mean CPU, highest memory, mean
        error rate. Driven from the plugins table so each plugin's recent rows are one index range."""
        m, p = t.metrics.c, t.plugins.c
        q = (
            select(p.plugin_id, func.avg(m.cpu_percent), func.max(m.memory_mb), func.avg(m.error_rate), func.count())
            .select_from(t.plugins.join(t.metrics, and_(m.plugin_id == p.plugin_id, m.ts >= since_ms)))
            .group_by(p.plugin_id)
        )
        if plugin_id is not None:
            q = q.where(p.plugin_id == plugin_id)
        with self._engine.connect() as conn:
            return {
                pid: {"cpu_mean": cpu, "memory_max": memory, "error_rate_mean": errors, "samples": int(n)}
                for pid, cpu, memory, errors, n in conn.execute(q)
            }

    def count_between(self, plugin_id: str, after_ms: int, until_ms: int) -> int:
        """How many samples lie after ``after_ms``, up to and including ``until_ms`` (one index range)."""
        m = t.metrics.c
        q = select(func.count()).where(m.plugin_id == plugin_id, m.ts > after_ms, m.ts <= until_ms)
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def nth_latest_ts(self, plugin_id: str, n: int) -> int | None:
        """The timestamp of the plugin's n-th most recent sample (1 = the latest), or None."""
        m = t.metrics.c
        q = select(m.ts).where(m.plugin_id == plugin_id).order_by(m.ts.desc()).offset(n - 1).limit(1)
        with self._engine.connect() as conn:
            return conn.execute(q).scalar_one_or_none()

    def extent(self, plugin_id: str) -> dict[str, Any]:
        """``samples``, ``first_ts`` and ``last_ts`` of one plugin."""
        m = t.metrics.c
        q = select(func.count(), func.min(m.ts), func.max(m.ts)).where(m.plugin_id == plugin_id)
        with self._engine.connect() as conn:
            count, first, last = conn.execute(q).one()
        return {"samples": int(count), "first_ts": first, "last_ts": last}

    def extents(self) -> dict[str, dict[str, Any]]:
        """``extent`` of every plugin with samples, in one query."""
        m = t.metrics.c
        q = select(m.plugin_id, func.count(), func.min(m.ts), func.max(m.ts)).group_by(m.plugin_id)
        with self._engine.connect() as conn:
            return {
                pid: {"samples": int(c), "first_ts": first, "last_ts": last} for pid, c, first, last in conn.execute(q)
            }


def _range(plugin_id: str, start_ms: int | None, end_ms: int | None) -> list[Any]:
    m = t.metrics.c
    where = [m.plugin_id == plugin_id]
    if start_ms is not None:
        where.append(m.ts >= start_ms)
    if end_ms is not None:
        where.append(m.ts < end_ms)
    return where
