"""Alerting's answers: alerts (firing, silenced, inhibited, resolved), the delivery log with the
receivers' answers, silences, and the configuration as the API shows it (secrets never: only
whether one is set)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import Record

__all__ = [
    "AlertList",
    "AlertRecord",
    "AlertingConfigView",
    "ContactPointList",
    "ContactPointView",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryList",
    "PolicyList",
    "Silence",
    "SilenceList",
]

Severity = Literal["High", "Medium", "Low"]


class AlertRecord(Record):
    fingerprint: str = Field(description="stable identity of the condition; receivers de-duplicate on it")
    rule: str = Field(description="what raised it, e.g. anomaly, forecast_crosses_limit, model_accuracy_low")
    plugin_id: str | None = Field(description="null: the service itself")
    metric: str | None
    severity: Severity
    state: Literal["firing", "resolved"]
    status: Literal["active", "silenced", "inhibited", "resolved"] = Field(
        description="active: notified; silenced / inhibited: firing but not notified"
    )
    silenced_by: list[str] = Field(description="silence ids (window:<name> for a maintenance window)")
    inhibited_by: list[str] = Field(description="fingerprints of the firing alerts that inhibit it")
    contact_points: list[str] = Field(description="where its notifications go under the current policies")
    summary: str
    evidence: dict[str, Any]
    recommended_actions: list[str]
    labels: dict[str, str]
    dashboard_url: str
    starts_at: str
    ends_at: str | None
    updated_at: str


class AlertList(Record):
    count: int
    counts: dict[str, int] = Field(description="alerts per status among those listed")
    alerts: list[AlertRecord]
    next_offset: int | None


class DeliveryAttempt(Record):
    at: str
    attempt: int
    status: str | None = Field(description="the receiver's answer code (HTTP 202, SMTP 250); null: no answer")
    answer: str = Field(description="the receiver's words, or what went wrong on the way")
    seconds: float


class Delivery(Record):
    id: int
    idempotency_key: str = Field(description="the same on every attempt: receivers drop repeats by it")
    contact_point: str
    policy: str
    group_labels: dict[str, str]
    status: Literal["firing", "resolved"]
    alerts: int
    plugins: list[str] = Field(description="plugins of its alerts (the first 20)")
    summary: str = Field(description="the first alert's summary")
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: str | None
    created_at: str
    delivered_at: str | None
    latency_seconds: float | None = Field(description="from the change it notifies of to the receiver's acceptance")
    last_status: str | None
    last_answer: str | None
    attempt_log: list[DeliveryAttempt]


class DeliveryList(Record):
    count: int
    counts: dict[str, int] = Field(description="notifications in the outbox per state")
    deliveries: list[Delivery]
    next_before_id: int | None = Field(description="pass as before_id for the next page")


class Silence(Record):
    silence_id: str
    matchers: dict[str, str]
    starts_at: str
    ends_at: str
    comment: str
    created_by: str
    created_at: str
    state: Literal["pending", "active", "expired"]


class SilenceList(Record):
    silences: list[Silence]


class ContactPointView(Record):
    name: str
    kind: Literal["alertmanager", "webhook", "slack", "email"]
    url: str | None = Field(description="scheme and host only: the full URL is write-only")
    has_secret: bool = Field(description="a webhook signing key is set (write-only)")
    has_password: bool = Field(description="an SMTP password is set (write-only)")
    smtp_host: str | None
    smtp_port: int
    smtp_security: Literal["none", "starttls", "ssl"]
    username: str | None
    from_address: str | None
    to: list[str]
    timeout_seconds: float


class ContactPointList(Record):
    contact_points: list[ContactPointView]


class PolicyList(Record):
    policies: list[dict[str, Any]] = Field(description="notification policies, in the order they are tried")


class AlertingConfigView(Record):
    contact_points: list[ContactPointView]
    policies: list[dict[str, Any]] = Field(description="notification policies, in the order they are tried")
    inhibit_rules: list[dict[str, Any]]
    maintenance_windows: list[dict[str, Any]]
