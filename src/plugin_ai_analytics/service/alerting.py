"""Alerting, the service part: its configuration (API and YAML file), the alerts as the faces see
them (firing, silenced, inhibited, resolved; with where they go), the delivery log, silences,
and the life of the delivery worker. What fires and when is ``alert_changes`` and
``alert_rules``; delivery is ``alert_delivery``; routing and payloads are the pure ``alerting/``.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from ..alerting import (
    SECRET_FIELDS,
    Alert,
    AlertingConfig,
    AlertingSetup,
    ContactPointSpec,
    SilenceSpec,
    check_policies,
    checked,
    inhibitions,
    load_alerting_file,
    muting,
    public_contact_point,
    route,
)
from ..config import Settings
from ..errors import Conflict, NotFound, ValidationError
from ..jobs.base import Executor
from ..logs import log_event
from ..schemas import (
    AlertingConfigView,
    AlertList,
    AlertRecord,
    ContactPointView,
    Delivery,
    DeliveryList,
    Silence,
    SilenceList,
)
from ..store import Store
from ..times import DAY_MS, ms_to_iso, now_ms, to_ms
from .alert_changes import AlertChanges, EventAlerts
from .alert_delivery import Delivery as DeliveryWorker
from .alert_rules import AlertRules
from .alert_setup import SetupReader, contact_point_spec
from .forecasts import Forecasts
from .sources import Sources

__all__ = ["Alerting"]

DELIVERED_KEPT_DAYS = 7  # finished notifications (and ended silences) stay listed this long


class Alerting:
    def __init__(
        self, *, store: Store, settings: Settings, sources: Sources, forecasts: Forecasts, jobs: Executor
    ) -> None:
        self._store = store
        self._settings = settings
        self._setup = SetupReader(store.alert_config)
        self.delivery = DeliveryWorker(
            records=store.alerts, silences=store.silences, setup=self._setup, settings=settings
        )
        # anomaly events raise their alerts in the transaction that stores them
        events = EventAlerts(records=store.alerts, setup=self._setup, wake=self.delivery.wake)
        store.anomalies.listen(events.on_events)
        rules = AlertRules(store=store, settings=settings, sources=sources, forecasts=forecasts, jobs=jobs)
        self.changes = AlertChanges(store=store, rules=rules, events=events, setup=self._setup, delivery=self.delivery)

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Load the alerting file (AI_ANALYTICS_ALERTING_FILE) and start delivering."""
        if self._settings.alerting_file:
            self.load_file(self._settings.alerting_file)
        if self._store.dialect == "sqlite":
            # Embedded: this is the one process that delivers, so a claim found now was left by a
            # predecessor killed mid-send; sent again at once (same key) rather than after its lease.
            released = self._store.alerts.release_claims()
            if released:
                log_event(logging.WARNING, "alerting", f"{released} notification(s) left claimed by a stopped process")
        self.delivery.start()

    def stop(self) -> None:
        self.delivery.stop()

    def evaluate(self) -> dict[str, int]:
        return self.changes.evaluate()

    def expire(self) -> dict[str, int]:
        """Retention: resolved alerts after the anomalies' retention, notifications after a week."""
        now = now_ms()
        done = self._store.alerts.expire(
            resolved_before=now - int(self._settings.retention_anomalies_days * DAY_MS),
            delivered_before=now - DELIVERED_KEPT_DAYS * DAY_MS,
        )
        done["silences"] = self._store.silences.delete_ended(now - DELIVERED_KEPT_DAYS * DAY_MS)
        return done

    # -- configuration -----------------------------------------------------------------------

    def setup(self) -> AlertingSetup:
        """The configuration in force (re-read when it changed, looked at most every second)."""
        return self._setup()

    def _changed(self) -> None:
        self._setup.invalidate()
        self.delivery.wake()

    def config(self) -> AlertingConfigView:
        setup = self.setup()
        return AlertingConfigView(
            contact_points=self.contact_points(),
            policies=[p.model_dump(mode="json", by_alias=True) for p in setup.policies],
            inhibit_rules=[r.model_dump(mode="json") for r in setup.inhibit_rules],
            maintenance_windows=[w.model_dump(mode="json") for w in setup.windows],
        )

    def replace_config(self, document: dict[str, Any]) -> AlertingConfigView:
        """Replace the whole configuration; a contact point given without its secrets keeps the ones
        it has (they are write-only, so a client that read the configuration cannot send them back)."""
        if not isinstance(document, dict):
            raise ValidationError("expected an object with contact_points, policies ...", field="body")
        stored = {c["name"]: c for c in self._store.alert_config.contact_points(with_secrets=True)}
        points = document.get("contact_points")
        if isinstance(points, list):
            document = {**document, "contact_points": [_with_stored_secrets(p, stored) for p in points]}
        config = checked(AlertingConfig, document)
        self._store_config(config)
        log_event(logging.INFO, "alerting", "configuration replaced", contact_points=len(config.contact_points))
        return self.config()

    def load_file(self, path: Path) -> AlertingConfigView:
        """Replace the configuration with a YAML file's (at start, and ``alerting load``)."""
        config = load_alerting_file(path)
        self._store_config(config)
        log_event(logging.INFO, "alerting", f"configuration loaded from {path}", policies=len(config.policies))
        return self.config()

    def _store_config(self, config: AlertingConfig) -> None:
        parts = {
            "policies": [p.model_dump(mode="json", by_alias=True) for p in config.policies],
            "inhibit_rules": [r.model_dump(mode="json") for r in config.inhibit_rules],
            "maintenance_windows": [w.model_dump(mode="json") for w in config.maintenance_windows],
        }
        points = [c.model_dump(mode="json") for c in config.contact_points]
        self._store.alert_config.replace_all(points, parts, now_ms())
        self._changed()

    def contact_points(self) -> list[ContactPointView]:
        # read with the secrets only to say whether they are set and to show the URL's host
        points = self._store.alert_config.contact_points(with_secrets=True)
        return [ContactPointView(**public_contact_point(contact_point_spec(c))) for c in points]

    def put_contact_point(self, name: str, body: dict[str, Any]) -> tuple[ContactPointView, bool]:
        """Create or replace a contact point; secrets left out are kept. Returns it and whether it is new."""
        if not isinstance(body, dict):
            raise ValidationError("expected an object", field="body")
        if body.get("name", name) != name:
            raise ValidationError(f"name: {body['name']!r} differs from the path's {name!r}", field="name")
        stored = {c["name"]: c for c in self._store.alert_config.contact_points(with_secrets=True)}
        spec = checked(ContactPointSpec, _with_stored_secrets({**body, "name": name}, stored))
        keep = [f for f in SECRET_FIELDS if body.get(f) is None and f not in body]
        self._store.alert_config.put_contact_point(spec.model_dump(mode="json"), now_ms(), keep=keep)
        self._changed()
        view = next(c for c in self.contact_points() if c.name == name)
        return view, name not in stored

    def delete_contact_point(self, name: str) -> None:
        users = [p.name for p in self.setup().policies if name in p.contact_points]
        if users:
            raise Conflict(f"contact point {name!r} is used by policies {', '.join(users)}", policies=users)
        self._store.alert_config.delete_contact_point(name)
        self._changed()

    def policies(self) -> list[dict[str, Any]]:
        return [p.model_dump(mode="json", by_alias=True) for p in self.setup().policies]

    def put_policies(self, body: Any) -> list[dict[str, Any]]:
        """Replace the notification policies (an ordered list: the first that matches wins)."""
        if not isinstance(body, list):
            raise ValidationError("expected a list of policies", field="policies")
        known = {c["name"] for c in self._store.alert_config.contact_points()}
        policies = check_policies(body, known)
        dumped = [p.model_dump(mode="json", by_alias=True) for p in policies]
        self._store.alert_config.put_part("policies", dumped, now_ms())
        self._changed()
        return dumped

    # -- silences ----------------------------------------------------------------------------

    def silences(self, *, include_expired: bool = True) -> SilenceList:
        now = now_ms()
        rows = self._store.silences.find(active_at=None if include_expired else now)
        return SilenceList(silences=[_silence(r, now) for r in rows])

    def create_silence(self, body: dict[str, Any]) -> Silence:
        spec = checked(SilenceSpec, body)
        now = now_ms()
        starts = to_ms(spec.starts_at) if spec.starts_at else now
        ends = to_ms(spec.ends_at) if spec.ends_at else int(starts + (spec.duration or 0) * 1000)
        if ends <= max(starts, now):
            raise ValidationError("ends_at: must be in the future and after starts_at", field="ends_at")
        row = {
            "silence_id": str(uuid.uuid4()),
            "matchers": spec.matchers,
            "starts_at": starts,
            "ends_at": ends,
            "comment": spec.comment,
            "created_by": spec.created_by or "api",
            "created_at": now,
            "updated_at": now,
        }
        self._store.silences.add(row)
        log_event(
            logging.INFO, "alerting", f"silence {row['silence_id']} until {ms_to_iso(ends)}", matchers=spec.matchers
        )
        self.delivery.wake()
        return _silence(row, now)

    def expire_silence(self, silence_id: str) -> Silence:
        now = now_ms()
        row = self._store.silences.expire(silence_id, now)
        self.delivery.wake()
        return _silence(row, now)

    # -- alerts and deliveries ---------------------------------------------------------------

    def alerts(
        self,
        *,
        state: str | None = None,
        plugin_id: str | None = None,
        severity: str | None = None,
        rule: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AlertList:
        """Alerts, newest change first, each with whether it is notified, silenced or inhibited now."""
        if state not in (None, "firing", "resolved"):
            raise ValidationError("state must be firing or resolved", field="state")
        if severity not in (None, "High", "Medium", "Low"):
            raise ValidationError("severity must be High, Medium or Low", field="severity")
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be between 1 and 1000", field="limit")
        now = now_ms()
        setup = self.setup()
        rows = self._store.alerts.find(
            state=state, plugin_id=plugin_id, severity=severity, rule=rule, limit=limit, offset=offset
        )
        firing = [Alert.from_row(r) for r in self._store.alerts.find(state="firing", limit=100_000)]
        inhibited = inhibitions(firing, setup.inhibit_rules)
        silences = self._store.silences.find(active_at=now)
        base = self._settings.public_url.rstrip("/")
        records = []
        for row in rows:
            alert = Alert.from_row(row)
            silenced = muting(alert.labels, silences, setup.windows, now) if alert.firing else []
            by = inhibited.get(alert.fingerprint, []) if alert.firing else []
            status = "resolved" if not alert.firing else "silenced" if silenced else "inhibited" if by else "active"
            records.append(
                AlertRecord(
                    fingerprint=alert.fingerprint,
                    rule=alert.rule,
                    plugin_id=alert.plugin_id,
                    metric=alert.metric,
                    severity=alert.severity,  # type: ignore[arg-type]
                    state=alert.state,  # type: ignore[arg-type]
                    status=status,  # type: ignore[arg-type]
                    silenced_by=silenced,
                    inhibited_by=by,
                    contact_points=sorted(
                        {t.contact_point for t in route(alert.labels, setup.policies, alert.fingerprint)}
                    ),
                    summary=alert.summary,
                    evidence=alert.evidence,
                    recommended_actions=list(alert.actions),
                    labels=alert.labels,
                    dashboard_url=base + alert.dashboard,
                    starts_at=ms_to_iso(alert.starts_at) or "",
                    ends_at=ms_to_iso(alert.ends_at),
                    updated_at=ms_to_iso(alert.updated_at) or "",
                )
            )
        counts: dict[str, int] = {}
        for r in records:
            counts[r.status] = counts.get(r.status, 0) + 1
        return AlertList(
            count=len(records),
            counts=counts,
            alerts=records,
            next_offset=offset + len(rows) if len(rows) == limit else None,
        )

    def deliveries(
        self,
        *,
        state: str | None = None,
        contact_point: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> DeliveryList:
        if state not in (None, "pending", "delivered", "dead"):
            raise ValidationError("state must be pending, delivered or dead", field="state")
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be between 1 and 1000", field="limit")
        rows = self._store.alerts.deliveries(state=state, contact_point=contact_point, limit=limit, before_id=before_id)
        return DeliveryList(
            count=len(rows),
            counts=self._store.alerts.outbox_counts(),
            deliveries=[_delivery(r) for r in rows],
            next_before_id=rows[-1]["id"] if len(rows) == limit else None,
        )

    def retry_delivery(self, outbox_id: int) -> Delivery:
        """A dead notification sent again (with its idempotency key: a receiver that has it drops it)."""
        if not self._store.alerts.requeue(outbox_id, now_ms()):
            row = self._store.alerts.delivery(outbox_id)
            if row is None:
                raise NotFound(f"notification {outbox_id} does not exist", id=outbox_id)
            raise Conflict(f"notification {outbox_id} is {row['state']}, not dead", state=row["state"])
        self.delivery.wake()
        row = self._store.alerts.delivery(outbox_id)
        assert row is not None
        return _delivery(row)

    def deliver(self, outbox_id: int) -> str:
        """Send one notification now (the task a distributed executor runs); returns its state."""
        return self.delivery.deliver(outbox_id)

    def summary_counts(self) -> dict[str, Any]:
        """Firing alerts per severity and notifications per state (``/metrics``, system status)."""
        counts = self._store.alerts.counts()
        return {
            "firing": {s: counts.get("firing", {}).get(s, 0) for s in ("High", "Medium", "Low")},
            "outbox": {s: self._store.alerts.outbox_counts().get(s, 0) for s in ("pending", "delivered", "dead")},
            "outcomes": dict(self.delivery.outcomes),
        }


def _with_stored_secrets(point: Any, stored: dict[str, dict[str, Any]]) -> Any:
    """A contact point body with the secrets it leaves out taken from the one stored under its name
    (of the same kind)."""
    if not isinstance(point, dict):
        return point
    old = stored.get(point.get("name"))
    if old is None or old.get("kind") != point.get("kind", old.get("kind")):
        return point
    return {**{f: old.get(f) for f in SECRET_FIELDS if old.get(f) is not None and f not in point}, **point}


def _silence(row: dict[str, Any], now: int) -> Silence:
    state = "pending" if row["starts_at"] > now else "active" if row["ends_at"] > now else "expired"
    return Silence(
        silence_id=row["silence_id"],
        matchers=row["matchers"],
        starts_at=ms_to_iso(row["starts_at"]) or "",
        ends_at=ms_to_iso(row["ends_at"]) or "",
        comment=row["comment"],
        created_by=row["created_by"],
        created_at=ms_to_iso(row["created_at"]) or "",
        state=state,  # type: ignore[arg-type]
    )


def _delivery(row: dict[str, Any]) -> Delivery:
    document = row["document"] or {}
    alerts = document.get("alerts") or []
    plugins = sorted({a.get("plugin_id") for a in alerts if a.get("plugin_id")})[:20]
    delivered = row["delivered_at"]
    return Delivery(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        contact_point=row["contact_point"],
        policy=row["policy"],
        group_labels=document.get("groupLabels") or {},
        status=row["status"],
        alerts=row["alerts"],
        plugins=plugins,
        summary=alerts[0]["summary"] if alerts else "",
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=ms_to_iso(row["next_attempt_at"]) if row["state"] == "pending" else None,
        created_at=ms_to_iso(row["created_at"]) or "",
        delivered_at=ms_to_iso(delivered),
        latency_seconds=None if delivered is None else round((delivered - row["caused_at"]) / 1000, 3),
        last_status=row["last_status"],
        last_answer=row["last_answer"],
        attempt_log=row["attempt_log"] or [],
    )
