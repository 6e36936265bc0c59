"""Alert changes: what happened (an anomaly event stored, a rule evaluation) turned into alerts
that fire, escalate or resolve, and the notification groups they mark due, all in the
transaction of what caused them. An anomaly event's alert is written in the very transaction
that stores the event (``AnomalyRecords.listen``); nothing can commit one without the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from ..alerting import (
    ALERTMANAGER_RESEND_MS,
    SEVERITY_RANK,
    Alert,
    AlertDraft,
    AlertingSetup,
    alert_fingerprint,
    alert_labels,
    notification,
    route,
)
from ..alerting.routing import Target
from ..logs import log_event
from ..store import AlertRecords, Store
from ..store.alerts import GroupMark
from ..times import ms_to_iso, now_ms
from .alert_delivery import Delivery
from .alert_rules import AlertRules
from .alert_setup import SetupReader

__all__ = ["AlertChanges", "EventAlerts", "listen_for_alerts"]

DATABASE_DOWN_EVALUATIONS = 2  # consecutive failed pings before the database alarm goes out

Change = tuple[dict[str, Any], bool]  # (the alert's row, whether it is news to notify)


class EventAlerts:
    """Writes alert changes and the groups they mark due, in the caller's transaction. Attached to
    the anomaly records of every process that stores events (the service, batch workers), so an
    event and its alert commit together wherever the event is written."""

    def __init__(self, *, records: AlertRecords, setup: Callable[[], AlertingSetup], wake: Callable[[], None]) -> None:
        self._records = records
        self._setup = setup
        self._wake = wake

    def on_events(
        self, conn: Connection, plugin_id: str, before: dict[str, dict[str, Any]], rows: list[dict[str, Any]]
    ) -> Callable[[], None] | None:
        """An event opened fires its alert, one that got more severe escalates it, one closed (or
        suppressed as a false alarm) resolves it; an event closed before it was ever seen open
        (history scored after the fact) raises nothing."""
        now = now_ms()
        by_fp = {alert_fingerprint("anomaly", plugin_id, None, r["event_id"]): r for r in rows}
        stored = self._records.current(conn, by_fp)
        labels: dict[str, str] | None = None
        changes: list[Change] = []
        for fp, row in by_fp.items():
            old = stored.get(fp)
            firing = old is not None and old["state"] == "firing"
            if row["state"] == "open":
                if firing:
                    same = old["severity"] == row["severity"] and old["labels"].get("metrics") == ",".join(
                        row["metrics"]
                    )
                    if same:
                        continue  # the event grew; nothing to tell anyone
                    notify = SEVERITY_RANK[row["severity"]] > SEVERITY_RANK[old["severity"]]
                else:
                    notify = True
            elif firing:
                notify = True
            else:
                continue
            if labels is None:
                labels = self._records.plugin_labels(conn, plugin_id)
            changes.append((_event_alert(fp, plugin_id, row, labels, old, now), notify))
        if not changes:
            return None
        self.apply(conn, changes, now)
        return self._wake

    def apply(self, conn: Connection, changes: Sequence[Change], now: int, marks: Sequence[GroupMark] = ()) -> None:
        """Write changed alerts and mark due the groups of those that are news, in ``conn``'s transaction."""
        setup = self._setup()
        all_marks = list(marks)
        for row, notify in changes:
            if notify:
                all_marks.extend(_mark(t, setup) for t in route(row["labels"], setup.policies, row["fingerprint"]))
        self._records.write_changes(conn, [row for row, _ in changes], all_marks, now)


def listen_for_alerts(store: Store) -> EventAlerts:
    """Attach alerting to a process that stores anomaly events without running the service (a batch
    worker): its events raise their alerts in their own transactions; the service delivers them."""
    events = EventAlerts(records=store.alerts, setup=SetupReader(store.alert_config), wake=lambda: None)
    store.anomalies.listen(events.on_events)
    return events


class AlertChanges:
    """The scheduled evaluation: rules judged, alerts fired, changed and resolved in one transaction."""

    def __init__(
        self,
        *,
        store: Store,
        rules: AlertRules,
        events: EventAlerts,
        setup: Callable[[], AlertingSetup],
        delivery: Delivery,
    ) -> None:
        self._store = store
        self._records = store.alerts
        self._rules = rules
        self._events = events
        self._setup = setup
        self._delivery = delivery
        self._database_failures = 0
        self._database_alarm: Alert | None = None

    # -- rules, on a schedule --------------------------------------------------------------------

    def evaluate(self) -> dict[str, int]:
        """Judge every scheduled rule, and write what changed in one transaction: new alerts fire,
        changed ones are updated (escalations notified), vanished ones resolve. Also resolves anomaly
        alerts whose event is gone and re-marks groups a firing alert should be in (after a
        configuration change). Returns how many alerts fired, changed and resolved."""
        now = now_ms()
        try:
            self._store.ping()
        except Exception as exc:
            self._database_down(exc, now)
            return {}
        if self._database_alarm is not None:
            self._database_back(now)
        self._database_failures = 0
        drafts, judged = self._rules.evaluate(now)
        firing = self._records.firing_of_rules(sorted(judged))
        labels = {p["plugin_id"]: p.get("labels") or {} for p in self._store.plugins.all()}
        changes: list[Change] = []
        counts = {"fired": 0, "changed": 0, "resolved": 0}
        for fp, draft in drafts.items():
            old = firing.get(fp)
            row = _draft_alert(draft, labels.get(draft.plugin_id or "", {}), old, now)
            if old is None:
                changes.append((row, True))
                counts["fired"] += 1
            elif (old["severity"], old["summary"], old["evidence"]) != (
                row["severity"],
                row["summary"],
                row["evidence"],
            ):
                changes.append((row, SEVERITY_RANK[row["severity"]] > SEVERITY_RANK[old["severity"]]))
                counts["changed"] += 1
        gone = [old for fp, old in firing.items() if fp not in drafts] + self._records.orphaned_anomaly_alerts()
        for old in gone:
            changes.append(({**old, "state": "resolved", "ends_at": now, "updated_at": now}, True))
            counts["resolved"] += 1
        marks = self._missing_groups(now)
        if changes or marks:
            with self._store.engine.begin() as conn:
                self._events.apply(conn, changes, now, marks)
            self._delivery.wake()
        return counts

    def _missing_groups(self, now: int) -> list[GroupMark]:
        """Groups that firing alerts route to and that do not exist (the policies changed, or a
        group ended while every alert in it was muted)."""
        setup = self._setup()
        if not setup.policies:
            return []
        have = self._records.group_ids()
        marks: list[GroupMark] = []
        for row in self._records.find(state="firing", limit=100_000):
            for target in route(row["labels"], setup.policies, row["fingerprint"]):
                if target.group_id not in have:
                    marks.append(_mark(target, setup))
                    have.add(target.group_id)
        return marks

    # -- the database itself ---------------------------------------------------------------------

    def _database_down(self, exc: Exception, now: int) -> None:
        """The outbox lives in the database: with the database down, the alarm is sent straight to
        the contact points its policies name (once, best effort), from the configuration in memory."""
        self._database_failures += 1
        log_event(logging.ERROR, "alerting", f"database unreachable: {exc!r}")
        if self._database_alarm is not None or self._database_failures < DATABASE_DOWN_EVALUATIONS:
            return
        labels = alert_labels("database_unreachable", None, None, "High")
        self._database_alarm = Alert(
            fingerprint=alert_fingerprint("database_unreachable", None, None),
            rule="database_unreachable",
            plugin_id=None,
            metric=None,
            severity="High",
            state="firing",
            summary=f"plugin-ai-analytics cannot reach its database: {type(exc).__name__}",
            evidence={"error": str(exc)[:500], "failed_checks": self._database_failures},
            actions=(
                "Check the database server (DATABASE_URL) is up and reachable from the service.",
                "Alerts raised meanwhile are held back until it is: the outbox lives in the database.",
            ),
            labels=labels,
            starts_at=now,
            ends_at=None,
            updated_at=now,
        )
        self._send_direct(self._database_alarm, now)

    def _database_back(self, now: int) -> None:
        alarm = self._database_alarm
        assert alarm is not None
        self._database_alarm = None
        resolved = Alert(**{**alarm.__dict__, "state": "resolved", "ends_at": now, "updated_at": now})
        self._send_direct(resolved, now)

    def _send_direct(self, alert: Alert, now: int) -> None:
        try:
            setup = self._setup()
        except Exception as exc:  # no configuration was ever read: there is no one to tell
            log_event(logging.ERROR, "alerting", f"database alarm not sent: no configuration in memory ({exc!r})")
            return
        for target in route(alert.labels, setup.policies, alert.fingerprint):
            point = setup.contact_points.get(target.contact_point)
            if point is None:
                continue
            firing, resolved = ([alert], []) if alert.firing else ([], [alert])
            key = f"{alert.fingerprint[:16]}{alert.state[0]}{alert.starts_at}"
            document = notification(
                target=target,
                firing=firing,
                resolved=resolved,
                idempotency_key=key,
                external_url=self._delivery.external_url,
            )
            answer = self._delivery.send_now(point, document)
            log_event(
                logging.WARNING,
                "alerting",
                f"database alarm ({alert.state}) to {target.contact_point}: {answer.status} {answer.answer[:100]}",
            )


def _mark(target: Target, setup: AlertingSetup) -> GroupMark:
    interval = target.group_interval_ms
    if (setup.contact_points.get(target.contact_point) or {}).get("kind") == "alertmanager":
        interval = min(interval, ALERTMANAGER_RESEND_MS)
    return (target.group_id, target.policy, target.contact_point, target.group_labels, target.group_wait_ms, interval)


def _event_alert(
    fp: str, plugin_id: str, row: dict[str, Any], plugin_labels: dict[str, str], old: dict[str, Any] | None, now: int
) -> dict[str, Any]:
    """The alert of an anomaly event (a row of the anomalies table as the detector wrote it)."""
    detail = row.get("explanation") or {}
    diagnosis = detail.get("diagnosis") or {}
    metrics = list(row["metrics"])
    labels = alert_labels("anomaly", plugin_id, metrics[0] if metrics else None, row["severity"], plugin_labels)
    labels.update(metrics=",".join(metrics), event_id=row["event_id"], kind=str(row["kind"]))
    since = ms_to_iso(row["start_ts"])
    summary = f"{plugin_id}: {row['severity']} anomaly ({row['kind']}) in {', '.join(metrics)} since {since}"
    if diagnosis.get("summary"):
        summary += f": {diagnosis['summary']}"
    evidence: dict[str, Any] = {"event_id": row["event_id"], "score": row["score"]}
    for metric, e in (detail.get("evidence") or {}).items():
        evidence[metric] = {k: e.get(k) for k in ("observed", "expected", "lower", "upper", "direction", "detector")}
    open_now = row["state"] == "open"
    return {
        "fingerprint": fp,
        "rule": "anomaly",
        "plugin_id": plugin_id,
        "metric": metrics[0] if metrics else None,
        "severity": row["severity"],
        "state": "firing" if open_now else "resolved",
        "summary": summary[:1000],
        "evidence": evidence,
        "actions": list(row.get("actions") or []),
        "labels": labels,
        "source_key": row["event_id"],
        "starts_at": old["starts_at"] if old is not None and old["state"] == "firing" else row["start_ts"],
        "ends_at": None if open_now else max(int(row.get("end_ts") or now), int(row["start_ts"])),
        "updated_at": now,
    }


def _draft_alert(
    draft: AlertDraft, plugin_labels: dict[str, str], old: dict[str, Any] | None, now: int
) -> dict[str, Any]:
    return {
        "fingerprint": draft.fingerprint,
        "rule": draft.rule,
        "plugin_id": draft.plugin_id,
        "metric": draft.metric,
        "severity": draft.severity,
        "state": "firing",
        "summary": draft.summary[:1000],
        "evidence": draft.evidence,
        "actions": list(draft.actions),
        "labels": alert_labels(draft.rule, draft.plugin_id, draft.metric, draft.severity, plugin_labels),
        "source_key": draft.key or None,
        "starts_at": old["starts_at"] if old is not None else (draft.since_ms or now),
        "ends_at": None,
        "updated_at": now,
    }
