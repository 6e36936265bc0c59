"""Deleting what has outlived its retention period."""

from __future__ import annotations

from sqlalchemy import Engine, delete, select

from . import tables as t

__all__ = ["Expiry"]


class Expiry:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def delete_before(self, table_name: str, column: str, cutoff_ms: int) -> int:
        """Delete the rows of ``table_name`` whose ``column`` is before ``cutoff_ms``, except those of
        plugins registered with ``keep_history``; returns how many."""
        table = t.metadata.tables[table_name]
        kept = select(t.plugins.c.plugin_id).where(t.plugins.c.keep_history.is_(True))
        with self._engine.begin() as conn:
            return conn.execute(
                delete(table).where(table.c[column] < cutoff_ms, table.c.plugin_id.not_in(kept))
            ).rowcount
