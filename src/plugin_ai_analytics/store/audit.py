"""The audit log's rows: appended one at a time under a lock, each carrying the hash of the entry
before it, so an edited, inserted or deleted row breaks the chain where it happened."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, insert, select

from . import tables as t
from ._shared import canonical_json, sha256_hex
from .database import serialise_appends

__all__ = ["AuditRecords", "entry_hash"]

_FIELDS = ("id", "at", "actor", "action", "plugin_id", "outcome", "details")


def entry_hash(row: dict[str, Any], prev_hash: str) -> str:
    """The hash an entry must carry: its own fields and the hash of the entry before it."""
    return sha256_hex(prev_hash + "\n" + canonical_json({k: row.get(k) for k in _FIELDS}))


class AuditRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(self, row: dict[str, Any]) -> dict[str, Any]:
        """Add an entry at the end of the chain; returns it with its id and hashes."""
        c = t.audit_log.c
        with self._engine.begin() as conn:
            serialise_appends(conn, "audit_log")
            last = conn.execute(select(c.id, c.entry_hash).order_by(c.id.desc()).limit(1)).first()
            prev_hash = (last.entry_hash or "") if last else ""
            entry = {**row, "id": (last.id + 1) if last else 1, "prev_hash": prev_hash}
            entry["entry_hash"] = entry_hash(entry, prev_hash)
            conn.execute(insert(t.audit_log), [entry])
        return entry

    def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        plugin_id: str | None = None,
        outcome: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries newest first, filtered; ``before_id`` pages back through older ones."""
        c = t.audit_log.c
        q = select(t.audit_log)
        for column, value in ((c.actor, actor), (c.action, action), (c.plugin_id, plugin_id), (c.outcome, outcome)):
            if value is not None:
                q = q.where(column == value)
        if since_ms is not None:
            q = q.where(c.at >= since_ms)
        if until_ms is not None:
            q = q.where(c.at < until_ms)
        if before_id is not None:
            q = q.where(c.id < before_id)
        with self._engine.connect() as conn:
            rows = conn.execute(q.order_by(c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    def chain(self, chunk: int = 5000) -> Iterator[dict[str, Any]]:
        """Every entry oldest first, in chunks (the log may be long)."""
        c = t.audit_log.c
        after = 0
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(select(t.audit_log).where(c.id > after).order_by(c.id).limit(chunk)).mappings()
                rows = [dict(r) for r in rows]
            yield from rows
            if len(rows) < chunk:
                return
            after = rows[-1]["id"]
