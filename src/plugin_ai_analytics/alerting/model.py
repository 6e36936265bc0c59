"""What an alert is: one condition of one plugin (or of the service itself) that someone on call
must hear about, with a stable fingerprint, its labels (what routing, silences and inhibition
match on) and what the notification says (summary, evidence, recommended actions, a link)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RULES",
    "SEVERITIES",
    "SEVERITY_RANK",
    "Alert",
    "AlertDraft",
    "alert_fingerprint",
    "alert_labels",
    "dashboard_path",
]

SEVERITIES = ("High", "Medium", "Low")
SEVERITY_RANK = {"High": 3, "Medium": 2, "Low": 1}

# Every rule that raises alerts, with what it means (docs/alerting.md explains each). The rule is
# the alert's ``alertname`` in Alertmanager and its ``rule`` label everywhere.
RULES = {
    "anomaly": "an anomaly event of the plugin (opened, escalated, resolved)",
    "forecast_crosses_limit": "the 24 h forecast reaches a limit of the plugin (time to impact)",
    "time_to_limit": "the optimisation analysis found a trend that reaches a limit (time to impact)",
    "ongoing_condition": "a condition holds now: CPU at its allocation, memory at its limit, sustained errors",
    "model_accuracy_low": "tracked forecast accuracy at or below 70 %",
    "intervals_not_covering": "the forecast's 80 % interval holds the actual value far less often than 80 %",
    "training_failed": "a training job of the plugin failed",
    "prediction_failed": "a forecast of the plugin could not be made",
    "too_little_data": "the plugin has sent metrics for a day and still cannot be trained",
    "source_failing": "the plugin's metric source fails to answer",
    "data_stale": "no sample from the plugin for three of its intervals",
    "database_unreachable": "the service cannot reach its database",
    "queue_backlog": "the service's background work is falling behind",
}

# Labels an alert always has; a plugin's own labels are added beside them and never replace them.
RESERVED_LABELS = ("alertname", "rule", "plugin_id", "metric", "severity", "service")


def alert_fingerprint(rule: str, plugin_id: str | None, metric: str | None, key: str = "") -> str:
    """The alert's identity: the same condition of the same plugin keeps the same fingerprint for
    as long as it lasts, so every receiver can de-duplicate and resolve it."""
    text = "\x1f".join((rule, plugin_id or "", metric or "", key))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def dashboard_path(plugin_id: str | None) -> str:
    """Where the dashboard shows what the alert is about (relative to the service's public URL)."""
    if plugin_id:
        return f"/plugin-ai-analytics#/plugin/{plugin_id}"
    return "/plugin-ai-analytics#/alerts"


def alert_labels(
    rule: str,
    plugin_id: str | None,
    metric: str | None,
    severity: str,
    plugin_labels: dict[str, str] | None = None,
) -> dict[str, str]:
    labels = {k: str(v) for k, v in (plugin_labels or {}).items() if k not in RESERVED_LABELS}
    labels.update(alertname=_camel(rule), rule=rule, severity=severity, service="plugin-ai-analytics")
    if plugin_id:
        labels["plugin_id"] = plugin_id
    if metric:
        labels["metric"] = metric
    return labels


def _camel(rule: str) -> str:
    # Alertmanager's convention: alert names in CamelCase (PluginAnomaly, PluginForecastCrossesLimit).
    return "Plugin" + "".join(part.capitalize() for part in rule.split("_"))


@dataclass(frozen=True)
class AlertDraft:
    """A condition a rule found, before it is compared with what is already firing."""

    rule: str
    plugin_id: str | None
    metric: str | None
    severity: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    actions: tuple[str, ...] = ()
    key: str = ""  # tells two alerts of one rule, plugin and metric apart (an anomaly event's id)
    since_ms: int | None = None  # when the condition began, when the rule knows it

    @property
    def fingerprint(self) -> str:
        return alert_fingerprint(self.rule, self.plugin_id, self.metric, self.key)


@dataclass(frozen=True)
class Alert:
    """An alert as stored: firing or resolved, with everything a notification says about it."""

    fingerprint: str
    rule: str
    plugin_id: str | None
    metric: str | None
    severity: str
    state: str  # firing / resolved
    summary: str
    evidence: dict[str, Any]
    actions: tuple[str, ...]
    labels: dict[str, str]
    starts_at: int
    ends_at: int | None
    updated_at: int

    @property
    def firing(self) -> bool:
        return self.state == "firing"

    @property
    def dashboard(self) -> str:
        return dashboard_path(self.plugin_id)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Alert:
        return cls(
            fingerprint=row["fingerprint"],
            rule=row["rule"],
            plugin_id=row["plugin_id"],
            metric=row["metric"],
            severity=row["severity"],
            state=row["state"],
            summary=row["summary"],
            evidence=row["evidence"] or {},
            actions=tuple(row["actions"] or ()),
            labels=dict(row["labels"] or {}),
            starts_at=int(row["starts_at"]),
            ends_at=None if row["ends_at"] is None else int(row["ends_at"]),
            updated_at=int(row["updated_at"]),
        )
