"""Queries over the tables: the only code that reads or writes the database.

Everything takes and returns plain values (epoch milliseconds, dicts); the service layer turns
them into records. Dialect differences stay in ``database.py``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, delete, func, insert, literal, select, update

from ..domain import METRIC_NAMES
from ..errors import NotFound
from . import tables as t
from .database import is_sqlite, make_engine, metrics_upsert_sql, migrate, upsert

__all__ = ["Store", "now_ms"]


def now_ms() -> int:
    return int(time.time() * 1000)


def canonical_json(value: Any) -> str:
    """One byte-exact text per value, so a checksum of it is stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_hex(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Store:
    """The database behind the service: SQLite by default, PostgreSQL through ``DATABASE_URL``."""

    def __init__(self, url: str, *, run_migrations: bool = True) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        if run_migrations:
            migrate(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> float:
        """Round-trip time of a trivial query, in ms (raises if the database is down)."""
        start = time.perf_counter()
        with self.engine.connect() as conn:
            conn.execute(select(literal(1))).scalar_one()
        return (time.perf_counter() - start) * 1000

    # -- plugins -----------------------------------------------------------------------------

    def upsert_plugin(self, plugin: dict[str, Any]) -> None:
        now = now_ms()
        row = {
            "plugin_id": plugin["plugin_id"],
            "name": plugin.get("name") or plugin["plugin_id"],
            "description": plugin.get("description") or "",
            "source": plugin.get("source"),
            "interval_seconds": float(plugin.get("interval_seconds") or 60.0),
            "enabled": bool(plugin.get("enabled", True)),
            "memory_limit_mb": plugin.get("memory_limit_mb"),
            "cpu_limit_percent": plugin.get("cpu_limit_percent"),
            "created_at": now,
            "updated_at": now,
        }
        cols = [
            "name",
            "description",
            "source",
            "interval_seconds",
            "enabled",
            "memory_limit_mb",
            "updated_at",
        ]
        with self.engine.begin() as conn:
            conn.execute(upsert(conn, t.plugins, ["plugin_id"], cols, merge=False), [row])

    def get_plugin(self, plugin_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.plugins).where(t.plugins.c.plugin_id == plugin_id)).mappings().first()
        return dict(row) if row else None

    def list_plugins(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.plugins).order_by(t.plugins.c.plugin_id)).mappings().all()
        return [dict(r) for r in rows]

    def delete_plugin(self, plugin_id: str) -> None:
        """Remove a plugin and everything recorded about it, in one transaction."""
        with self.engine.begin() as conn:
            found = conn.execute(delete(t.plugins).where(t.plugins.c.plugin_id == plugin_id)).rowcount
            if not found:
                raise NotFound(f"plugin {plugin_id!r} is not registered", plugin_id=plugin_id)
            for table in (
                t.metrics,
                t.predictions,
                t.models,
                t.anomalies,
                t.suggestions,
                t.rejections,
                t.detector_states,
            ):
                conn.execute(delete(table).where(table.c.plugin_id == plugin_id))

    # -- metrics -----------------------------------------------------------------------------

    def insert_samples(self, plugin_id: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """Store validated samples atomically; a (plugin, ts) already stored is merged, not duplicated.

        Each row is ``(ts epoch ms, *values in METRIC_NAMES order)``. The plugin is registered
        as push-only on first sight. This is the ingestion hot path, so it goes to the driver's
        ``executemany`` with one prepared statement instead of through SQL expression objects.
        """
        if not rows:
            return 0
        now = now_ms()
        with self.engine.begin() as conn:
            conn.execute(
                _insert_ignore(conn, t.plugins, ["plugin_id"]),
                [
                    {
                        "plugin_id": plugin_id,
                        "name": plugin_id,
                        "description": "",
                        "source": None,
                        "interval_seconds": 60.0,
                        "enabled": True,
                        "memory_limit_mb": None,
                        "cpu_limit_percent": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            sql = metrics_upsert_sql(conn)
            conn.exec_driver_sql(sql, [(plugin_id, *row) for row in rows])
        return len(rows)

    def record_rejection(self, plugin_id: str, field: str | None, message: str, samples: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.rejections),
                [
                    {
                        "plugin_id": plugin_id,
                        "at": now_ms(),
                        "field": field,
                        "message": message[:2000],
                        "samples": samples,
                    }
                ],
            )

    def rejection_counts(self, plugin_id: str | None = None, since_ms: int | None = None) -> dict[str, int]:
        q = select(t.rejections.c.plugin_id, func.count(), func.sum(t.rejections.c.samples)).group_by(
            t.rejections.c.plugin_id
        )
        if plugin_id is not None:
            q = q.where(t.rejections.c.plugin_id == plugin_id)
        if since_ms is not None:
            q = q.where(t.rejections.c.at >= since_ms)
        with self.engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(q)}

    def metrics_history(
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
        where = [m.plugin_id == plugin_id]
        if start_ms is not None:
            where.append(m.ts >= start_ms)
        if end_ms is not None:
            where.append(m.ts < end_ms)
        if not resolution_ms:
            cols = [m.ts, *(m[name] for name in metrics)]
            q = select(*cols).where(and_(*where)).order_by(m.ts).limit(limit).offset(offset)
        else:
            # ``//`` is integer (floor) division on both dialects for integer operands.
            bucket = (m.ts // resolution_ms) * resolution_ms
            bucket = bucket.label("ts")
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
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def iter_metrics(
        self, plugin_id: str, *, start_ms: int | None = None, end_ms: int | None = None, chunk: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        """Stream all samples of a plugin in chunks (keyset paging, constant memory)."""
        m = t.metrics.c
        where = [m.plugin_id == plugin_id]
        if start_ms is not None:
            where.append(m.ts >= start_ms)
        if end_ms is not None:
            where.append(m.ts < end_ms)
        return self._keyset_chunks([m.ts, *(m[n] for n in METRIC_NAMES)], m.ts, where, chunk)

    def _keyset_chunks(self, columns: list[Any], key: Any, where: list[Any], chunk: int) -> Iterator[list[dict]]:
        """Rows matching ``where`` ordered by the unique ``key``, ``chunk`` at a time; each chunk is
        one short query, so a long stream never holds a connection or the whole result."""
        after = None
        while True:
            conditions = [*where, key > after] if after is not None else where
            q = select(*columns).where(and_(*conditions)).order_by(key).limit(chunk)
            with self.engine.connect() as conn:
                rows = [dict(r) for r in conn.execute(q).mappings()]
            if not rows:
                return
            yield rows
            if len(rows) < chunk:
                return
            after = rows[-1][key.name]

    def nth_latest_ts(self, plugin_id: str, n: int) -> int | None:
        """The timestamp of the plugin's n-th most recent sample (1 = the latest), or None."""
        m = t.metrics.c
        q = select(m.ts).where(m.plugin_id == plugin_id).order_by(m.ts.desc()).offset(n - 1).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(q).scalar_one_or_none()

    def metrics_arrays(self, plugin_id: str, *, start_ms: int | None = None) -> tuple[list[str], list[tuple]]:
        """Column names and raw row tuples of a plugin's samples from ``start_ms`` on, oldest first.

        The analysis path reads whole windows; raw tuples skip building a dict per row.
        """
        columns = ["ts", *METRIC_NAMES]
        mark = "?" if is_sqlite(self.engine) else "%s"
        sql = f"SELECT {', '.join(columns)} FROM metrics WHERE plugin_id = {mark}"
        params: tuple[Any, ...] = (plugin_id,)
        if start_ms is not None:
            sql += f" AND ts >= {mark}"
            params += (start_ms,)
        sql += " ORDER BY ts"
        with self.engine.connect() as conn:
            # Straight from the DBAPI cursor: sqlite3 and psycopg already return tuples, and
            # wrapping 4,000 rows in Row objects only to unwrap them cost more than the query.
            rows = conn.exec_driver_sql(sql, params).cursor.fetchall()
        return columns, [tuple(r) for r in rows] if rows and type(rows[0]) is not tuple else rows

    def metrics_extent(self, plugin_id: str) -> dict[str, Any]:
        m = t.metrics.c
        q = select(func.count(), func.min(m.ts), func.max(m.ts)).where(m.plugin_id == plugin_id)
        with self.engine.connect() as conn:
            count, first, last = conn.execute(q).one()
        return {"samples": int(count), "first_ts": first, "last_ts": last}

    def all_extents(self) -> dict[str, dict[str, Any]]:
        m = t.metrics.c
        q = select(m.plugin_id, func.count(), func.min(m.ts), func.max(m.ts)).group_by(m.plugin_id)
        with self.engine.connect() as conn:
            return {
                pid: {"samples": int(c), "first_ts": first, "last_ts": last} for pid, c, first, last in conn.execute(q)
            }

    # -- models: safe format, verified on load ------------------------------------------------

    def save_model(
        self,
        plugin_id: str,
        metric: str,
        model_name: str,
        state: dict[str, Any],
        quality: dict[str, Any] | None,
        data_from: int | None,
        data_to: int | None,
    ) -> int:
        """Store a trained model's state as canonical JSON with its SHA-256; it becomes the active one."""
        text = canonical_json(state)
        with self.engine.begin() as conn:
            m = t.models.c
            version = conn.execute(
                select(func.coalesce(func.max(m.version), 0)).where(m.plugin_id == plugin_id, m.metric == metric)
            ).scalar_one()
            conn.execute(update(t.models).where(m.plugin_id == plugin_id, m.metric == metric).values(active=False))
            conn.execute(
                insert(t.models),
                [
                    {
                        "plugin_id": plugin_id,
                        "metric": metric,
                        "version": version + 1,
                        "model_name": model_name,
                        "trained_at": now_ms(),
                        "data_from": data_from,
                        "data_to": data_to,
                        "state": text,
                        "checksum": sha256_hex(text),
                        "quality": quality,
                        "active": True,
                    }
                ],
            )
        return int(version + 1)

    def active_models(self, plugin_id: str | None = None) -> list[dict[str, Any]]:
        """Active model rows *without* their state (cheap listing for status and summaries)."""
        m = t.models.c
        cols = [m.plugin_id, m.metric, m.version, m.model_name, m.trained_at, m.data_from, m.data_to, m.quality]
        q = select(*cols).where(m.active.is_(True)).order_by(m.plugin_id, m.metric)
        if plugin_id is not None:
            q = q.where(m.plugin_id == plugin_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def load_model_state(self, plugin_id: str, metric: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The active model's state, after verifying its checksum; a mismatch is refused."""
        from ..errors import ModelIntegrityError

        m = t.models.c
        q = select(t.models).where(m.plugin_id == plugin_id, m.metric == metric, m.active.is_(True))
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            return None
        if sha256_hex(row["state"]) != row["checksum"]:
            raise ModelIntegrityError(
                f"stored model {plugin_id}/{metric} v{row['version']} fails its checksum: refused (retrain it)",
                plugin_id=plugin_id,
                metric=metric,
            )
        try:
            state = json.loads(row["state"])
        except ValueError:
            raise ModelIntegrityError(f"stored model {plugin_id}/{metric} is not valid JSON: refused") from None
        info = {k: row[k] for k in ("version", "model_name", "trained_at", "data_from", "data_to", "quality")}
        return state, info

    # -- predictions and their scoring -------------------------------------------------------

    def replace_predictions(self, plugin_id: str, made_at: int, rows: Sequence[dict[str, Any]]) -> None:
        """Store a fresh forecast; future targets of older forecasts are superseded (deleted),
        while past ones stay to be scored against actuals."""
        p = t.predictions.c
        columns = [
            "plugin_id",
            "metric",
            "made_at",
            "target_ts",
            "value",
            "lower_80",
            "upper_80",
            "lower_95",
            "upper_95",
            "confidence",
            "clipped",
            "model_id",
        ]
        mark = "?" if is_sqlite(self.engine) else "%s"
        sql = f"INSERT INTO predictions ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
        values = [(plugin_id, r["metric"], made_at, *(r[c] for c in columns[3:])) for r in rows]
        with self.engine.begin() as conn:
            conn.execute(
                delete(t.predictions).where(p.plugin_id == plugin_id, p.target_ts > made_at, p.actual.is_(None))
            )
            if values:
                conn.exec_driver_sql(sql, values)

    def latest_predictions(self, plugin_id: str) -> list[dict[str, Any]]:
        p = t.predictions.c
        with self.engine.connect() as conn:
            made = conn.execute(select(func.max(p.made_at)).where(p.plugin_id == plugin_id)).scalar_one()
            if made is None:
                return []
            q = select(t.predictions).where(p.plugin_id == plugin_id, p.made_at == made).order_by(p.metric, p.target_ts)
            return [dict(r) for r in conn.execute(q).mappings()]

    def unscored_predictions(self, before_ms: int, limit: int = 5000) -> list[dict[str, Any]]:
        p = t.predictions.c
        q = (
            select(p.id, p.plugin_id, p.metric, p.target_ts)
            .where(p.actual.is_(None), p.target_ts <= before_ms)
            .order_by(p.target_ts)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def score_predictions(self, scored: Sequence[tuple[int, float]]) -> None:
        now = now_ms()
        with self.engine.begin() as conn:
            conn.execute(
                update(t.predictions)
                .where(t.predictions.c.id == bindparam("pid"))
                .values(actual=bindparam("actual"), scored_at=now),
                [{"pid": pid, "actual": actual} for pid, actual in scored],
            )

    def scored_predictions(self, plugin_id: str, since_ms: int) -> list[dict[str, Any]]:
        p = t.predictions.c
        q = (
            select(p.metric, p.made_at, p.target_ts, p.value, p.actual, p.lower_80, p.upper_80, p.lower_95, p.upper_95)
            .where(p.plugin_id == plugin_id, p.actual.is_not(None), p.target_ts >= since_ms)
            .order_by(p.target_ts)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- anomaly events and detector state ----------------------------------------------------

    def save_detector_state(self, plugin_id: str, state: dict[str, Any], last_ts: int | None) -> int:
        """Persist a plugin's detector; returns the stored size in bytes."""
        text = canonical_json(state)
        row = {
            "plugin_id": plugin_id,
            "state": text,
            "checksum": sha256_hex(text),
            "last_ts": last_ts,
            "updated_at": now_ms(),
        }
        with self.engine.begin() as conn:
            conn.execute(
                upsert(
                    conn, t.detector_states, ["plugin_id"], ["state", "checksum", "last_ts", "updated_at"], merge=False
                ),
                [row],
            )
        return len(text)

    def load_detector_state(self, plugin_id: str) -> dict[str, Any] | None:
        from ..errors import ModelIntegrityError

        q = select(t.detector_states).where(t.detector_states.c.plugin_id == plugin_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            return None
        if sha256_hex(row["state"]) != row["checksum"]:
            raise ModelIntegrityError(
                f"detector state of {plugin_id!r} fails its checksum: refused", plugin_id=plugin_id
            )
        return json.loads(row["state"])

    def delete_detector_state(self, plugin_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.detector_states).where(t.detector_states.c.plugin_id == plugin_id))

    def upsert_events(self, plugin_id: str, events: Sequence[dict[str, Any]]) -> None:
        """Insert or update anomaly events by (plugin, event_id); operator feedback is kept."""
        if not events:
            return
        now = now_ms()
        rows = [{"plugin_id": plugin_id, "feedback": None, "updated_at": now, **e} for e in events]
        cols = ["end_ts", "metrics", "kind", "score", "severity", "explanation", "actions", "state", "updated_at"]
        with self.engine.begin() as conn:
            conn.execute(upsert(conn, t.anomalies, ["plugin_id", "event_id"], cols, merge=False), rows)

    def anomalies(
        self,
        plugin_id: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        severity: str | None = None,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        a = t.anomalies.c
        where = [a.plugin_id == plugin_id]
        if start_ms is not None:
            where.append(func.coalesce(a.end_ts, a.start_ts) >= start_ms)
        if end_ms is not None:
            where.append(a.start_ts < end_ms)
        if severity:
            where.append(a.severity == severity)
        if state:
            where.append(a.state == state)
        q = select(t.anomalies).where(and_(*where)).order_by(a.start_ts.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def anomaly_counts(self, state: str = "open") -> dict[str, dict[str, int]]:
        a = t.anomalies.c
        q = select(a.plugin_id, a.severity, func.count()).where(a.state == state).group_by(a.plugin_id, a.severity)
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for pid, severity, n in conn.execute(q):
                out.setdefault(pid, {})[severity] = int(n)
        return out

    def get_event(self, plugin_id: str, event_id: str) -> dict[str, Any]:
        a = t.anomalies.c
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(t.anomalies).where(a.plugin_id == plugin_id, a.event_id == event_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"anomaly {event_id!r} of plugin {plugin_id!r} does not exist", event_id=event_id)
        return dict(row)

    def set_feedback(self, plugin_id: str, event_id: str, label: str) -> None:
        a = t.anomalies.c
        with self.engine.begin() as conn:
            conn.execute(
                update(t.anomalies)
                .where(a.plugin_id == plugin_id, a.event_id == event_id)
                .values(feedback=label, updated_at=now_ms())
            )

    # -- optimisation suggestions ------------------------------------------------------------

    def upsert_suggestions(self, plugin_id: str, suggestions: Sequence[dict[str, Any]]) -> None:
        """The same finding of a plugin is updated in place (created_at kept), never repeated."""
        if not suggestions:
            return
        now = now_ms()
        rows = [{"plugin_id": plugin_id, "created_at": now, "updated_at": now, **s} for s in suggestions]
        cols = ["title", "evidence", "expected_effect", "steps", "priority", "updated_at"]
        with self.engine.begin() as conn:
            conn.execute(upsert(conn, t.suggestions, ["plugin_id", "finding"], cols, merge=False), rows)

    def suggestions(
        self,
        plugin_id: str,
        *,
        findings: Sequence[str] | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        sg = t.suggestions.c
        where = [sg.plugin_id == plugin_id]
        if findings is not None:
            where.append(sg.finding.in_(list(findings)))
        if start_ms is not None:
            where.append(sg.updated_at >= start_ms)
        if end_ms is not None:
            where.append(sg.created_at < end_ms)
        q = select(t.suggestions).where(and_(*where)).order_by(sg.updated_at.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def iter_table(
        self,
        table_name: str,
        plugin_id: str,
        time_column: str,
        start_ms: int | None,
        end_ms: int | None,
        chunk: int = 5000,
    ) -> Iterator[list[dict[str, Any]]]:
        """Stream a plugin's rows of any record table (in insertion order), a chunk at a time."""
        table = t.metadata.tables[table_name]
        where = [table.c.plugin_id == plugin_id]
        if start_ms is not None:
            where.append(table.c[time_column] >= start_ms)
        if end_ms is not None:
            where.append(table.c[time_column] < end_ms)
        return self._keyset_chunks(list(table.c), table.c.id, where, chunk)

    # -- jobs --------------------------------------------------------------------------------

    def create_job(self, kind: str, plugin_id: str | None, params: dict[str, Any] | None = None) -> str:
        job_id = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.jobs),
                [
                    {
                        "job_id": job_id,
                        "kind": kind,
                        "plugin_id": plugin_id,
                        "status": "queued",
                        "progress": 0.0,
                        "created_at": now_ms(),
                        "result": {"params": params} if params else None,
                    }
                ],
            )
        return job_id

    def update_job(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.jobs).where(t.jobs.c.job_id == job_id).values(**values))

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.jobs).where(t.jobs.c.job_id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"job {job_id!r} does not exist", job_id=job_id)
        return dict(row)

    def list_jobs(self, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(t.jobs).order_by(t.jobs.c.created_at.desc()).limit(limit)
        if status:
            q = q.where(t.jobs.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def job_counts(self) -> dict[str, int]:
        q = select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(q)}

    # -- audit -------------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        plugin_id: str | None,
        outcome: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.audit_log),
                [
                    {
                        "at": now_ms(),
                        "actor": actor,
                        "action": action,
                        "plugin_id": plugin_id,
                        "outcome": outcome,
                        "details": json.loads(json.dumps(details, default=str)) if details else None,
                    }
                ],
            )

    # -- retention ---------------------------------------------------------------------------

    def delete_older_than(self, table_name: str, column: str, cutoff_ms: int) -> int:
        table = t.metadata.tables[table_name]
        with self.engine.begin() as conn:
            return conn.execute(delete(table).where(table.c[column] < cutoff_ms)).rowcount


def _insert_ignore(conn: Any, table: Any, key: list[str]) -> Any:
    if is_sqlite(conn):
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=key)
