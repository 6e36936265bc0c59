"""Alerts (firing or resolved, by fingerprint), the notification groups they mark due, and the
outbox of notifications with every delivery attempt and the receiver's answer.

The writes that follow an event take the caller's connection (``write_changes(conn, ...)``), so
an anomaly event, the alert it raises and the group it marks due commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, or_, select, true, update
from sqlalchemy.engine import Connection

from . import tables as t
from .database import upsert

__all__ = ["AlertRecords", "GroupMark", "OUTBOX_STATES"]

OUTBOX_STATES = ("pending", "delivered", "dead")
ATTEMPT_LOG_KEPT = 20  # attempts of one notification kept in its log (the oldest dropped)

_ALERT_COLUMNS = [
    "rule",
    "plugin_id",
    "metric",
    "severity",
    "state",
    "summary",
    "evidence",
    "actions",
    "labels",
    "source_key",
    "starts_at",
    "ends_at",
    "updated_at",
]

GroupMark = tuple[str, str, str, dict[str, str], int, int]
"""(group id, policy, contact point, group labels, group wait ms, group interval ms)"""


def _first_of_group() -> Any:
    """No older notification of the same group is still pending: a group's go out in order."""
    older = t.alert_outbox.alias("older")
    return ~(
        select(older.c.id)
        .where(
            older.c.group_id == t.alert_outbox.c.group_id, older.c.state == "pending", older.c.id < t.alert_outbox.c.id
        )
        .exists()
    )


class _FlushedElsewhere(Exception):
    """Another worker flushed the group between our read and our write: roll ours back."""


class AlertRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- alerts ------------------------------------------------------------------------------

    def current(self, conn: Connection, fingerprints: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored alerts of these fingerprints (in the caller's transaction)."""
        fps = list(fingerprints)
        out: dict[str, dict[str, Any]] = {}
        for begin in range(0, len(fps), 500):
            q = select(t.alerts).where(t.alerts.c.fingerprint.in_(fps[begin : begin + 500]))
            out.update({r["fingerprint"]: dict(r) for r in conn.execute(q).mappings()})
        return out

    def firing_of_rules(self, rules: Sequence[str]) -> dict[str, dict[str, Any]]:
        q = select(t.alerts).where(t.alerts.c.state == "firing", t.alerts.c.rule.in_(list(rules)))
        with self._engine.connect() as conn:
            return {r["fingerprint"]: dict(r) for r in conn.execute(q).mappings()}

    def write_changes(
        self, conn: Connection, alerts: Sequence[dict[str, Any]], marks: Sequence[GroupMark], now: int
    ) -> None:
        """Store changed alerts and mark their groups due, in the caller's transaction: a new group
        notifies after its group wait, a known one no sooner than a group interval after its last
        notification (and never later than it was already due)."""
        if alerts:
            conn.execute(upsert(conn, t.alerts, ["fingerprint"], _ALERT_COLUMNS, merge=False), list(alerts))
        if not marks:
            return
        unique = {m[0]: m for m in marks}
        g = t.alert_groups.c
        known = {
            r["group_id"]: r
            for r in conn.execute(
                select(g.group_id, g.next_flush_at, g.last_flush_at, g.pending_since).where(
                    g.group_id.in_(list(unique))
                )
            ).mappings()
        }
        new_rows = []
        for group_id, policy, point, labels, wait_ms, interval_ms in unique.values():
            row = known.get(group_id)
            if row is None:
                new_rows.append(
                    {
                        "group_id": group_id,
                        "policy": policy,
                        "contact_point": point,
                        "group_labels": labels,
                        "next_flush_at": now + wait_ms,
                        "last_flush_at": None,
                        "pending_since": now,
                        "flushes": 0,
                        "notified": {},
                        "created_at": now,
                    }
                )
                continue
            due = now + wait_ms if row["last_flush_at"] is None else max(row["last_flush_at"] + interval_ms, now)
            if row["next_flush_at"] is not None:
                due = min(due, row["next_flush_at"])
            conn.execute(
                update(t.alert_groups)
                .where(g.group_id == group_id)
                .values(next_flush_at=due, pending_since=row["pending_since"] or now)
            )
        if new_rows:
            conn.execute(insert(t.alert_groups), new_rows)

    def find(
        self,
        *,
        state: str | None = None,
        plugin_id: str | None = None,
        severity: str | None = None,
        rule: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Alerts newest change first."""
        a = t.alerts.c
        where = []
        for column, value in ((a.state, state), (a.plugin_id, plugin_id), (a.severity, severity), (a.rule, rule)):
            if value is not None:
                where.append(column == value)
        q = (
            select(t.alerts)
            .where(and_(true(), *where))
            .order_by(a.updated_at.desc(), a.fingerprint)
            .limit(limit)
            .offset(offset)
        )
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def active(self, notified: Iterable[str]) -> list[dict[str, Any]]:
        """Every firing alert, and the resolved ones among ``notified`` (receivers still think they fire)."""
        with self._engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(t.alerts).where(t.alerts.c.state == "firing")).mappings()]
            seen = {r["fingerprint"] for r in rows}
            rows += [r for r in self.current(conn, set(notified) - seen).values() if r["state"] != "firing"]
        return rows

    def counts(self) -> dict[str, dict[str, int]]:
        """Alerts per state and severity."""
        a = t.alerts.c
        out: dict[str, dict[str, int]] = {}
        with self._engine.connect() as conn:
            for state, severity, n in conn.execute(
                select(a.state, a.severity, func.count()).group_by(a.state, a.severity)
            ):
                out.setdefault(state, {})[severity] = int(n)
        return out

    def orphaned_anomaly_alerts(self) -> list[dict[str, Any]]:
        """Firing anomaly alerts whose event is no longer open (closed while alerting was not
        listening, deleted with its plugin, or expired by retention)."""
        a, e = t.alerts.c, t.anomalies.c
        still_open = (
            select(e.id).where(e.plugin_id == a.plugin_id, e.event_id == a.source_key, e.state == "open").exists()
        )
        q = select(t.alerts).where(a.rule == "anomaly", a.state == "firing", ~still_open)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def group_ids(self) -> set[str]:
        with self._engine.connect() as conn:
            return set(conn.execute(select(t.alert_groups.c.group_id)).scalars())

    # -- groups ------------------------------------------------------------------------------

    def due_groups(self, now: int, limit: int = 1000) -> list[dict[str, Any]]:
        g = t.alert_groups.c
        q = select(t.alert_groups).where(g.next_flush_at <= now).order_by(g.next_flush_at).limit(limit)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def next_group_due(self) -> int | None:
        with self._engine.connect() as conn:
            return conn.execute(select(func.min(t.alert_groups.c.next_flush_at))).scalar_one()

    def flush_group(
        self,
        group: dict[str, Any],
        *,
        next_flush_at: int | None,
        notified: dict[str, str],
        now: int,
        notification: dict[str, Any] | None,
    ) -> bool:
        """Record a group's flush and, when it notifies, its notification in the outbox, together.
        Returns False when another worker flushed the group first (nothing is written then)."""
        g = t.alert_groups.c
        mine = and_(g.group_id == group["group_id"], g.flushes == group["flushes"])
        try:
            with self._engine.begin() as conn:
                if next_flush_at is None and not notified:
                    done = conn.execute(delete(t.alert_groups).where(mine))
                else:
                    values: dict[str, Any] = {"next_flush_at": next_flush_at, "notified": notified}
                    if notification is not None:
                        values.update(last_flush_at=now, pending_since=None, flushes=group["flushes"] + 1)
                    done = conn.execute(update(t.alert_groups).where(mine).values(**values))
                if done.rowcount != 1:
                    raise _FlushedElsewhere
                if notification is not None:
                    conn.execute(insert(t.alert_outbox), [notification])
        except _FlushedElsewhere:
            return False
        return True

    # -- the outbox --------------------------------------------------------------------------

    def claim_due(self, now: int, lease_ms: int, limit: int) -> list[dict[str, Any]]:
        """Pending notifications due now, claimed for ``lease_ms`` (a worker that dies mid-send
        leaves them to be claimed again when the lease runs out)."""
        o = t.alert_outbox.c
        free = or_(o.claimed_until.is_(None), o.claimed_until < now)
        with self._engine.begin() as conn:
            q = (
                select(o.id)
                .where(o.state == "pending", o.next_attempt_at <= now, free, _first_of_group())
                .order_by(o.next_attempt_at, o.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = list(conn.execute(q).scalars())
            if not ids:
                return []
            conn.execute(update(t.alert_outbox).where(o.id.in_(ids), free).values(claimed_until=now + lease_ms))
            return [dict(r) for r in conn.execute(select(t.alert_outbox).where(o.id.in_(ids))).mappings()]

    def claim(self, outbox_id: int, now: int, lease_ms: int) -> dict[str, Any] | None:
        """One pending notification, claimed; None when it is delivered, dead or being sent."""
        o = t.alert_outbox.c
        with self._engine.begin() as conn:
            done = conn.execute(
                update(t.alert_outbox)
                .where(o.id == outbox_id, o.state == "pending", or_(o.claimed_until.is_(None), o.claimed_until < now))
                .values(claimed_until=now + lease_ms)
            )
            if done.rowcount != 1:
                return None
            row = conn.execute(select(t.alert_outbox).where(o.id == outbox_id)).mappings().first()
        return dict(row) if row else None

    def record_attempt(
        self, row: dict[str, Any], *, state: str, next_attempt_at: int | None, entry: dict[str, Any], now: int
    ) -> None:
        """Note one attempt's outcome and release the claim."""
        log = (list(row["attempt_log"] or []) + [entry])[-ATTEMPT_LOG_KEPT:]
        values = {
            "state": state,
            "attempts": row["attempts"] + 1,
            "next_attempt_at": next_attempt_at,
            "claimed_until": None,
            "updated_at": now,
            "last_status": entry.get("status"),
            "last_answer": entry.get("answer"),
            "attempt_log": log,
        }
        if state == "delivered":
            values["delivered_at"] = now
        with self._engine.begin() as conn:
            conn.execute(update(t.alert_outbox).where(t.alert_outbox.c.id == row["id"]).values(**values))

    def release_claims(self) -> int:
        """Forget every claim (at the start of the only process that delivers: embedded SQLite)."""
        o = t.alert_outbox.c
        with self._engine.begin() as conn:
            done = conn.execute(
                update(t.alert_outbox)
                .where(o.state == "pending", o.claimed_until.is_not(None))
                .values(claimed_until=None)
            )
        return done.rowcount

    def requeue(self, outbox_id: int, now: int) -> bool:
        """A dead notification back to pending, due now (after its receiver is fixed)."""
        o = t.alert_outbox.c
        with self._engine.begin() as conn:
            done = conn.execute(
                update(t.alert_outbox)
                .where(o.id == outbox_id, o.state == "dead")
                .values(state="pending", next_attempt_at=now, attempts=0, updated_at=now)
            )
        return done.rowcount == 1

    def next_delivery_due(self) -> int | None:
        """When the next pending notification that may be sent now (first of its group) is due."""
        o = t.alert_outbox.c
        q = select(func.min(o.next_attempt_at)).where(
            o.state == "pending", o.claimed_until.is_(None), _first_of_group()
        )
        with self._engine.connect() as conn:
            return conn.execute(q).scalar_one()

    def deliveries(
        self,
        *,
        state: str | None = None,
        contact_point: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Notifications newest first (keyset paging by ``before_id``)."""
        o = t.alert_outbox.c
        where = []
        if state is not None:
            where.append(o.state == state)
        if contact_point is not None:
            where.append(o.contact_point == contact_point)
        if before_id is not None:
            where.append(o.id < before_id)
        q = select(t.alert_outbox).where(and_(true(), *where)).order_by(o.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def delivery(self, outbox_id: int) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.alert_outbox).where(t.alert_outbox.c.id == outbox_id)).mappings().first()
        return dict(row) if row else None

    def outbox_counts(self) -> dict[str, int]:
        o = t.alert_outbox.c
        with self._engine.connect() as conn:
            return {s: int(n) for s, n in conn.execute(select(o.state, func.count()).group_by(o.state))}

    def expire(self, *, resolved_before: int, delivered_before: int) -> dict[str, int]:
        """Retention: resolved alerts and finished notifications older than the cut-offs."""
        a, o = t.alerts.c, t.alert_outbox.c
        with self._engine.begin() as conn:
            alerts = conn.execute(delete(t.alerts).where(a.state == "resolved", a.updated_at < resolved_before))
            outbox = conn.execute(
                delete(t.alert_outbox).where(o.state.in_(["delivered", "dead"]), o.updated_at < delivered_before)
            )
        return {"alerts": alerts.rowcount, "notifications": outbox.rowcount}

    def plugin_labels(self, conn: Connection, plugin_id: str) -> dict[str, str]:
        """A plugin's registered labels (in the caller's transaction)."""
        row = conn.execute(select(t.plugins.c.labels).where(t.plugins.c.plugin_id == plugin_id)).first()
        return dict(row[0] or {}) if row else {}
