"""Delivery: the worker that turns due notification groups into notifications in the outbox (each
group flush and its notification in one transaction) and sends what is pending, with retries,
exponential back-off with jitter, and a dead-letter state after N attempts.

Nothing is lost: a notification exists in the outbox before anything is sent, and stays pending
until a receiver accepts it (a worker that dies mid-send leaves its claim to expire). Nothing is
repeated for a receiver that honours the idempotency key: a retry carries the key of the first
attempt. Notifications of one group go out in order (a resolve never overtakes its firing).
``deliver(outbox_id)`` sends one notification: the unit a distributed executor can run as a task.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..alerting import (
    Alert,
    AlertingSetup,
    Target,
    decide_flush,
    inhibitions,
    muting,
    notification,
    retry_delay,
    route,
)
from ..alerting.senders import Answer, Senders
from ..config import Settings
from ..logs import log_event
from ..security.outbound import Allowlist
from ..store import AlertRecords, SilenceRecords
from ..times import ms_to_iso, now_ms

__all__ = ["Delivery"]

# A worker claims BATCH_PER_WORKER notifications per sender thread, each left alone by the others
# for as long as sending them all could take (their timeouts) plus a margin: a worker killed
# mid-send leaves them to be claimed again once the lease runs out.
LEASE_MARGIN_MS = 5_000
POLL_SECONDS = 1.0  # the worker looks for due groups and notifications at least this often
BATCH_PER_WORKER = 2
MUTED_RECHECK_MS = 30_000  # a group whose alerts are all silenced looks again this often at most


class Delivery:
    def __init__(
        self,
        *,
        records: AlertRecords,
        silences: SilenceRecords,
        setup: Callable[[], AlertingSetup],
        settings: Settings,
    ) -> None:
        self._records = records
        self._silences = silences
        self._setup = setup
        self.external_url = settings.public_url
        self._max_attempts = settings.alert_delivery_attempts
        self._retry_base = settings.alert_retry_base_seconds
        self._retry_max = settings.alert_retry_max_seconds
        self._workers = settings.alert_delivery_workers
        # Receivers' URLs are reached only where outbound requests may go (the SSRF guard).
        self._allow = Allowlist.parse(settings.outbound_allow)
        self._senders: Senders | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.outcomes: dict[str, int] = defaultdict(int)  # delivered / retried / dead, since start
        self._counting = threading.Lock()  # sender threads count outcomes at once
        self.latencies_ms: deque[float] = deque(maxlen=2000)  # change -> accepted by the receiver

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="alert-delivery", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._senders is not None:
            self._senders.close()
            self._senders = None

    def wake(self) -> None:
        """Something changed (an alert, the configuration): look now rather than at the next poll."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.dispatch_due(now_ms())
                while self.deliver_due(now_ms()) >= self._workers * BATCH_PER_WORKER and not self._stop.is_set():
                    pass
            except Exception as exc:  # the worker must outlive a bad moment (database restarting)
                log_event(logging.ERROR, "alerting", f"delivery pass failed: {exc!r}")
                self._stop.wait(POLL_SECONDS)
            self._wake.wait(self._idle_seconds())

    def _idle_seconds(self) -> float:
        try:
            due = [d for d in (self._records.next_group_due(), self._records.next_delivery_due()) if d is not None]
        except Exception:
            return POLL_SECONDS
        if not due:
            return POLL_SECONDS
        return min(POLL_SECONDS, max(0.02, (min(due) - now_ms()) / 1000))

    def _lease_ms(self) -> int:
        timeouts = [float(p.get("timeout_seconds") or 10) for p in self._setup().contact_points.values()]
        return int(1000 * (BATCH_PER_WORKER + 1) * max(timeouts, default=10.0)) + LEASE_MARGIN_MS

    def _sender(self) -> Senders:
        if self._senders is None:
            self._senders = Senders(self._allow)
        return self._senders

    # -- groups -> outbox ----------------------------------------------------------------------

    def dispatch_due(self, now: int) -> int:
        """Flush every group that is due: decide what it says (Alertmanager's grouping rule) and
        write the notification with the group's new state. Returns the notifications written."""
        groups = self._records.due_groups(now)
        if not groups:
            return 0
        setup = self._setup()
        notified = set().union(*(g["notified"] for g in groups))
        alerts = [Alert.from_row(r) for r in self._records.active(notified)]
        by_fp = {a.fingerprint: a for a in alerts}
        silences = self._silences.find(active_at=now)
        inhibited = inhibitions(alerts, setup.inhibit_rules)
        members: dict[str, list[Alert]] = defaultdict(list)
        muted: set[str] = set()  # groups with firing alerts that are silenced or inhibited now
        targets: dict[str, Target] = {}
        for alert in alerts:
            if not alert.firing:
                continue
            held = alert.fingerprint in inhibited or bool(muting(alert.labels, silences, setup.windows, now))
            for target in route(alert.labels, setup.policies, alert.fingerprint):
                targets[target.group_id] = target
                if held:
                    muted.add(target.group_id)
                else:
                    members[target.group_id].append(alert)
        written = 0
        for group in groups:
            target = targets.get(group["group_id"]) or _target_of(group, setup)
            point = setup.contact_points.get(group["contact_point"])
            if target is None or point is None:  # its policy or contact point is gone
                self._records.flush_group(group, next_flush_at=None, notified={}, now=now, notification=None)
                continue
            resolved = [by_fp[fp] for fp in group["notified"] if fp in by_fp and not by_fp[fp].firing]
            decision = decide_flush(
                target=target,
                kind=point["kind"],
                members=members.get(group["group_id"], []) + resolved,
                notified=group["notified"],
                last_flush_at=group["last_flush_at"],
                now=now,
            )
            if decision.next_flush_at is None and group["group_id"] in muted:
                # keep looking while its alerts are held back: they are told when the silence ends
                decision.next_flush_at = now + min(target.group_interval_ms, MUTED_RECHECK_MS)
            row = None
            if decision.send:
                key = _idempotency_key(group, group["flushes"] + 1)
                document = notification(
                    target=target,
                    firing=decision.firing,
                    resolved=decision.resolved,
                    idempotency_key=key,
                    external_url=self.external_url,
                )
                row = {
                    "idempotency_key": key,
                    "group_id": group["group_id"],
                    "policy": target.policy,
                    "contact_point": target.contact_point,
                    "status": document["status"],
                    "document": document,
                    "alerts": len(document["alerts"]),
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "claimed_until": None,
                    "caused_at": group["pending_since"] or now,
                    "created_at": now,
                    "updated_at": now,
                    "attempt_log": [],
                }
            flushed = self._records.flush_group(
                group, next_flush_at=decision.next_flush_at, notified=decision.notified, now=now, notification=row
            )
            written += int(flushed and row is not None)
        return written

    # -- outbox -> receivers -------------------------------------------------------------------

    def deliver_due(self, now: int) -> int:
        """Send every pending notification that is due (in parallel, one group's in order)."""
        rows = self._records.claim_due(now, self._lease_ms(), self._workers * BATCH_PER_WORKER)
        if not rows:
            return 0
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="alert-send")
        list(self._pool.map(self._attempt, rows))
        return len(rows)

    def deliver(self, outbox_id: int) -> str:
        """Send one notification now if it is pending and nobody else is sending it; returns its state."""
        row = self._records.claim(outbox_id, now_ms(), self._lease_ms())
        if row is None:
            found = self._records.delivery(outbox_id)
            return found["state"] if found else "missing"
        return self._attempt(row)

    def _attempt(self, row: dict[str, Any]) -> str:
        point = self._setup().contact_points.get(row["contact_point"])
        if point is None:
            answer = Answer(False, False, None, f"contact point {row['contact_point']!r} no longer exists")
        else:
            answer = self._sender().send(point, row["document"], row["idempotency_key"])
        done = now_ms()
        attempts = row["attempts"] + 1
        entry = {
            "at": ms_to_iso(done),
            "attempt": attempts,
            "status": answer.status,
            "answer": answer.answer,
            "seconds": answer.seconds,
        }
        next_at = None
        if answer.delivered:
            state = "delivered"
            self.latencies_ms.append(float(done - row["caused_at"]))
        elif not answer.retryable or attempts >= self._max_attempts:
            state = "dead"
            log_event(
                logging.ERROR,
                "alerting",
                f"notification {row['id']} to {row['contact_point']} dead after {attempts} attempt(s): "
                f"{answer.status or ''} {answer.answer[:200]}",
            )
        else:
            state = "pending"
            delay = max(retry_delay(attempts, self._retry_base, self._retry_max), answer.retry_after or 0.0)
            next_at = done + int(delay * 1000)
            log_event(
                logging.INFO,
                "alerting",
                f"notification {row['id']} to {row['contact_point']} not delivered ({answer.status or 'no answer'}: "
                f"{answer.answer[:120]}); attempt {attempts + 1} in {delay:.1f} s",
            )
        self._records.record_attempt(row, state=state, next_attempt_at=next_at, entry=entry, now=done)
        with self._counting:
            self.outcomes["retried" if state == "pending" else state] += 1
        return state

    def send_now(self, point: dict[str, Any], document: dict[str, Any]) -> Answer:
        """Send outside the outbox, once (when the database itself is what is down)."""
        return self._sender().send(point, document, document["idempotencyKey"])


def _target_of(group: dict[str, Any], setup: AlertingSetup) -> Target | None:
    """The target a group was made for, from its policy as configured now (None when gone)."""
    policy = setup.policy(group["policy"])
    if policy is None or group["contact_point"] not in policy.contact_points:
        return None
    return Target(
        group_id=group["group_id"],
        policy=policy.name,
        contact_point=group["contact_point"],
        group_labels=group["group_labels"],
        group_wait_ms=int(policy.group_wait * 1000),
        group_interval_ms=int(policy.group_interval * 1000),
        repeat_interval_ms=int(policy.repeat_interval * 1000),
        send_resolved=policy.send_resolved,
    )


def _idempotency_key(group: dict[str, Any], flush: int) -> str:
    """The same for every attempt of one flush; never reused, even by a group made again later."""
    text = f"{group['group_id']}:{group['created_at']}:{flush}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]
