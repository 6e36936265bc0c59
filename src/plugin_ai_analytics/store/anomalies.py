"""Anomaly events (one row per incident, updated as it grows and closes; operator feedback kept)
and each plugin's streaming detector state (JSON with its checksum, so it survives restarts)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, and_, delete, func, select, update
from sqlalchemy.engine import Connection

from ..errors import ModelIntegrityError, NotFound
from ..times import now_ms
from . import tables as t
from ._shared import canonical_json, sha256_hex
from .database import upsert

__all__ = ["AnomalyRecords", "DetectorStates"]


# Called inside the transaction that stores a plugin's events, with the rows as they were before
# (by event id) and the rows written; may write in that transaction too, and may return a callable
# to run once it has committed.
EventListener = Callable[[Connection, str, dict[str, dict[str, Any]], list[dict[str, Any]]], Callable[[], None] | None]


class AnomalyRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._listeners: list[EventListener] = []

    def listen(self, listener: EventListener) -> None:
        """Have ``listener`` see every change of events in the transaction that makes it (alerting
        writes its alerts there, so an event and its notification commit together or not at all)."""
        self._listeners.append(listener)

    def upsert(self, plugin_id: str, events: Sequence[dict[str, Any]]) -> None:
        """Insert or update anomaly events by (plugin, event_id); operator feedback is kept."""
        if not events:
            return
        now = now_ms()
        rows = [{"plugin_id": plugin_id, "feedback": None, "updated_at": now, **e} for e in events]
        cols = ["end_ts", "metrics", "kind", "score", "severity", "explanation", "actions", "state", "updated_at"]
        after: list[Callable[[], None]] = []
        with self._engine.begin() as conn:
            before = self._before(conn, plugin_id, [r["event_id"] for r in rows]) if self._listeners else {}
            conn.execute(upsert(conn, t.anomalies, ["plugin_id", "event_id"], cols, merge=False), rows)
            for listener in self._listeners:
                then = listener(conn, plugin_id, before, rows)
                if then is not None:
                    after.append(then)
        for then in after:
            then()

    @staticmethod
    def _before(conn: Connection, plugin_id: str, event_ids: list[str]) -> dict[str, dict[str, Any]]:
        a = t.anomalies.c
        q = select(a.event_id, a.severity, a.state, a.metrics).where(
            a.plugin_id == plugin_id, a.event_id.in_(event_ids)
        )
        return {r["event_id"]: dict(r) for r in conn.execute(q).mappings()}

    def find(
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
        """Events still going on at or after ``start_ms`` and started before ``end_ms``, newest first."""
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
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def get(self, plugin_id: str, event_id: str) -> dict[str, Any]:
        a = t.anomalies.c
        q = select(t.anomalies).where(a.plugin_id == plugin_id, a.event_id == event_id)
        with self._engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            raise NotFound(f"anomaly {event_id!r} of plugin {plugin_id!r} does not exist", event_id=event_id)
        return dict(row)

    def set_feedback(self, plugin_id: str, event_id: str, label: str) -> None:
        a = t.anomalies.c
        with self._engine.begin() as conn:
            conn.execute(
                update(t.anomalies)
                .where(a.plugin_id == plugin_id, a.event_id == event_id)
                .values(feedback=label, updated_at=now_ms())
            )

    def counts(self, state: str = "open") -> dict[str, dict[str, int]]:
        """Events in ``state`` per plugin and severity."""
        a = t.anomalies.c
        q = select(a.plugin_id, a.severity, func.count()).where(a.state == state).group_by(a.plugin_id, a.severity)
        return self._per_plugin_severity(q)

    def started_since(self, since_ms: int, plugin_id: str | None = None) -> dict[str, dict[str, int]]:
        """Events (any state) started at or after ``since_ms``, per plugin and severity."""
        a = t.anomalies.c
        q = select(a.plugin_id, a.severity, func.count()).where(a.start_ts >= since_ms)
        if plugin_id is not None:
            q = q.where(a.plugin_id == plugin_id)
        return self._per_plugin_severity(q.group_by(a.plugin_id, a.severity))

    def _per_plugin_severity(self, q: Any) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self._engine.connect() as conn:
            for pid, severity, n in conn.execute(q):
                out.setdefault(pid, {})[severity] = int(n)
        return out


class DetectorStates:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, plugin_id: str, state: dict[str, Any], last_ts: int | None) -> int:
        """Persist a plugin's detector; returns the stored size in bytes."""
        text = canonical_json(state)
        row = {"plugin_id": plugin_id, "state": text, "checksum": sha256_hex(text), "last_ts": last_ts}
        row["updated_at"] = now_ms()
        cols = ["state", "checksum", "last_ts", "updated_at"]
        with self._engine.begin() as conn:
            conn.execute(upsert(conn, t.detector_states, ["plugin_id"], cols, merge=False), [row])
        return len(text)

    def load(self, plugin_id: str) -> dict[str, Any] | None:
        """The saved state after verifying its checksum; a mismatch is refused."""
        q = select(t.detector_states).where(t.detector_states.c.plugin_id == plugin_id)
        with self._engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            return None
        if sha256_hex(row["state"]) != row["checksum"]:
            raise ModelIntegrityError(
                f"detector state of {plugin_id!r} fails its checksum: refused", plugin_id=plugin_id
            )
        return json.loads(row["state"])

    def version(self, plugin_id: str) -> str | None:
        """What identifies the saved state (its checksum), without reading the state: a process
        holding a copy reloads only when this changed (another process saved since)."""
        q = select(t.detector_states.c.checksum).where(t.detector_states.c.plugin_id == plugin_id)
        with self._engine.connect() as conn:
            return conn.execute(q).scalar_one_or_none()

    def delete(self, plugin_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(t.detector_states).where(t.detector_states.c.plugin_id == plugin_id))
