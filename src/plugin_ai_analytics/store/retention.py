"""Deleting what has outlived its retention period, one bounded batch per transaction, so a
large expiry never holds the write lock (SQLite) or a long transaction (PostgreSQL) that
ingestion would wait behind."""

from __future__ import annotations

from sqlalchemy import Engine, delete, select

from . import tables as t

__all__ = ["Expiry"]


class Expiry:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def expiring_plugins(self) -> list[str]:
        """Plugins whose records retention may delete (all but those registered ``keep_history``),
        including plugins that only ever pushed metrics under an id since deleted."""
        with self._engine.connect() as conn:
            kept = {r[0] for r in conn.execute(select(t.plugins.c.plugin_id).where(t.plugins.c.keep_history.is_(True)))}
            known = {r[0] for r in conn.execute(select(t.plugins.c.plugin_id))}
        return sorted(known - kept)

    def delete_metrics_batch(self, plugin_id: str, cutoff_ms: int, limit: int) -> int:
        """Delete at most ``limit`` of the plugin's oldest samples before ``cutoff_ms`` (walking the
        primary key (plugin_id, ts), so each batch is an index range); returns how many."""
        m = t.metrics.c
        with self._engine.begin() as conn:
            edge = conn.execute(
                select(m.ts).where(m.plugin_id == plugin_id, m.ts < cutoff_ms).order_by(m.ts).limit(1).offset(limit - 1)
            ).scalar()
            bound = m.ts <= edge if edge is not None else m.ts < cutoff_ms
            return conn.execute(delete(t.metrics).where(m.plugin_id == plugin_id, bound)).rowcount

    def delete_finished_jobs(self, cutoff_ms: int, limit: int) -> int:
        """Delete at most ``limit`` jobs that finished before ``cutoff_ms``, with their batch parts
        (one row per plugin of a distributed batch), in one transaction; returns jobs deleted."""
        j = t.jobs.c
        with self._engine.begin() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(j.job_id)
                    .where(j.finished_at < cutoff_ms, j.status.in_(("succeeded", "failed", "cancelled")))
                    .order_by(j.finished_at)
                    .limit(limit)
                )
            ]
            if not ids:
                return 0
            conn.execute(delete(t.batch_parts).where(t.batch_parts.c.job_id.in_(ids)))
            return conn.execute(delete(t.jobs).where(j.job_id.in_(ids))).rowcount

    def delete_batch(self, table_name: str, column: str, cutoff_ms: int, limit: int) -> int:
        """Delete at most ``limit`` rows of ``table_name`` (a table with an ``id`` key) whose
        ``column`` is before ``cutoff_ms``, except those of plugins registered ``keep_history``."""
        table = t.metadata.tables[table_name]
        where = [table.c[column] < cutoff_ms]
        if "plugin_id" in table.c and table_name != "audit_log":
            kept = select(t.plugins.c.plugin_id).where(t.plugins.c.keep_history.is_(True))
            where.append(table.c.plugin_id.not_in(kept))
        with self._engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(table.c.id).where(*where).order_by(table.c.id).limit(limit))]
            if not ids:
                return 0
            return conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount
