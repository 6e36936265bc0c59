"""Pure routing: which contact points and group an alert goes to (notification policies), whether
it is muted (silences, maintenance windows, inhibition), when a group is due to notify and what it
says, and how long a failed delivery waits before its next attempt. No I/O, no clock: ``now`` is
always passed in, in epoch milliseconds.
"""

from __future__ import annotations

import fnmatch
import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .config import InhibitRule, MaintenanceWindow, PolicySpec
from .model import Alert

__all__ = [
    "ALERTMANAGER_RESEND_MS",
    "FlushDecision",
    "Target",
    "decide_flush",
    "group_id",
    "inhibitions",
    "labels_match",
    "muting",
    "retry_delay",
    "route",
    "window_active",
]

# An Alertmanager forgets a firing alert it has not heard of for a while (its resolve_timeout), so
# firing alerts are sent to it again at least this often, each valid for four times as long
# (what Prometheus itself does).
ALERTMANAGER_RESEND_MS = 60_000


def glob_match(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def labels_match(matchers: dict[str, str], labels: dict[str, str]) -> bool:
    """Every matcher (label: value or glob) holds; a missing label reads as the empty string."""
    return all(glob_match(pattern, labels.get(name, "")) for name, pattern in matchers.items())


def policy_matches(policy: PolicySpec, labels: dict[str, str]) -> bool:
    m = policy.match
    plugin = labels.get("plugin_id", "")
    if m.plugins and not any(glob_match(p, plugin) for p in m.plugins):
        return False
    if m.metrics and not set(m.metrics) & set((labels.get("metrics") or labels.get("metric", "")).split(",")):
        return False  # an anomaly names all its metrics in ``metrics``: any of them matches
    if m.severities and labels.get("severity", "") not in m.severities:
        return False
    if m.rules and labels.get("rule", "") not in m.rules:
        return False
    return labels_match(m.labels, labels)


@dataclass(frozen=True)
class Target:
    """One place an alert's notifications go: a policy's contact point, in one group."""

    group_id: str
    policy: str
    contact_point: str
    group_labels: dict[str, str]
    group_wait_ms: int
    group_interval_ms: int
    repeat_interval_ms: int
    send_resolved: bool


def group_id(policy: str, contact_point: str, group_labels: dict[str, str]) -> str:
    text = "\x1f".join([policy, contact_point, *(f"{k}={v}" for k, v in sorted(group_labels.items()))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def route(labels: dict[str, str], policies: Sequence[PolicySpec], fingerprint: str = "") -> list[Target]:
    """The targets of an alert: policies in order, the first that matches wins unless it says
    ``continue``; none matching means the alert is listed but notifies no one."""
    targets = []
    for policy in policies:
        if not policy_matches(policy, labels):
            continue
        if policy.group_by == ["..."]:
            grouping = {"fingerprint": fingerprint}
        else:
            grouping = {name: labels.get(name, "") for name in policy.group_by}
        for point in policy.contact_points:
            targets.append(
                Target(
                    group_id=group_id(policy.name, point, grouping),
                    policy=policy.name,
                    contact_point=point,
                    group_labels=grouping,
                    group_wait_ms=int(policy.group_wait * 1000),
                    group_interval_ms=int(policy.group_interval * 1000),
                    repeat_interval_ms=int(policy.repeat_interval * 1000),
                    send_resolved=policy.send_resolved,
                )
            )
        if not policy.continue_:
            break
    return targets


def window_active(window: MaintenanceWindow, now: int) -> bool:
    """Whether a maintenance window holds at ``now`` (weekly windows in UTC, and one that began on
    the previous day and runs past midnight counts)."""
    at = datetime.fromtimestamp(now / 1000, UTC)
    if window.starts_at is not None and window.ends_at is not None:
        start, end = (_utc(window.starts_at), _utc(window.ends_at))
        return start <= at < end
    hour, minute = (int(x) for x in (window.start or "00:00").split(":"))
    length = timedelta(seconds=window.duration or 0)
    for back in range(0, 8):  # a window may last up to a week: look at the starts of the last 7 days
        day = (at - timedelta(days=back)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        if ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()] in window.weekdays:
            if day <= at < day + length:
                return True
    return False


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def muting(
    labels: dict[str, str],
    silences: Iterable[dict[str, Any]],
    windows: Iterable[MaintenanceWindow],
    now: int,
) -> list[str]:
    """The silences (by id) and maintenance windows (``window:<name>``) that mute these labels now."""
    found = [
        s["silence_id"]
        for s in silences
        if s["starts_at"] <= now < s["ends_at"] and labels_match(s["matchers"], labels)
    ]
    found += [f"window:{w.name}" for w in windows if labels_match(w.matchers, labels) and window_active(w, now)]
    return found


def inhibitions(alerts: Sequence[Alert], rules: Sequence[InhibitRule]) -> dict[str, list[str]]:
    """Per inhibited alert's fingerprint, the firing alerts that inhibit it. An alert never
    inhibits itself, and one matching both sides of a rule is not inhibited by its own kind."""
    out: dict[str, list[str]] = {}
    firing = [a for a in alerts if a.firing]
    for rule in rules:
        sources: dict[tuple[str, ...], list[str]] = {}
        for a in firing:
            if labels_match(rule.source, a.labels):
                sources.setdefault(tuple(a.labels.get(n, "") for n in rule.equal), []).append(a.fingerprint)
        if not sources:
            continue
        for a in firing:
            if labels_match(rule.target, a.labels) and not labels_match(rule.source, a.labels):
                by = sources.get(tuple(a.labels.get(n, "") for n in rule.equal))
                if by:
                    out.setdefault(a.fingerprint, []).extend(f for f in by if f != a.fingerprint)
    return {k: v for k, v in out.items() if v}


@dataclass
class FlushDecision:
    """What a due group does now: send (the firing alerts and those resolved since the last
    notification), and when it is looked at next (None: the group is done and can go)."""

    send: bool
    firing: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    notified: dict[str, str] = field(default_factory=dict)
    next_flush_at: int | None = None


def decide_flush(
    *,
    target: Target,
    kind: str,
    members: Sequence[Alert],
    notified: dict[str, str],
    last_flush_at: int | None,
    now: int,
) -> FlushDecision:
    """Alertmanager's grouping rule. ``members`` are the group's alerts that are not muted (firing
    ones, and resolved ones it told the receiver were firing); ``notified`` is what it last told
    the receiver (fingerprint → severity). It sends when that changed, or when an unchanged firing
    group is due for its repeat (for an Alertmanager, at least every minute)."""
    firing = sorted((a for a in members if a.firing), key=lambda a: (a.plugin_id or "", a.fingerprint))
    resolved = [a for a in members if not a.firing and a.fingerprint in notified] if target.send_resolved else []
    now_firing = {a.fingerprint: a.severity for a in firing}
    repeat = target.repeat_interval_ms
    interval = target.group_interval_ms
    if kind == "alertmanager":
        repeat = min(repeat, ALERTMANAGER_RESEND_MS)
        interval = min(interval, ALERTMANAGER_RESEND_MS)
    changed = now_firing != notified or bool(resolved)
    repeat_due = bool(firing) and last_flush_at is not None and now - last_flush_at >= repeat
    send = bool(firing or resolved) and (changed or repeat_due)
    if not send:
        # nothing to say now; forget what is no longer firing (muted or resolved without a resolve
        # notification), and look again later while anything fires
        notified = {fp: sev for fp, sev in notified.items() if fp in now_firing}
        if not firing and not notified:
            return FlushDecision(send=False, notified={}, next_flush_at=None)
        following = min(interval, repeat - (now - last_flush_at)) if last_flush_at is not None else interval
        return FlushDecision(send=False, notified=notified, next_flush_at=now + max(1000, following))
    return FlushDecision(
        send=True,
        firing=firing,
        resolved=resolved,
        notified=now_firing,
        next_flush_at=now + min(interval, repeat) if firing else None,
    )


def retry_delay(attempts: int, base_seconds: float, max_seconds: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: exponential back-off (base × 2^(n-1),
    at most ``max_seconds``) with jitter (half to all of it), so many failed deliveries do not
    retry in step against a receiver that is coming back."""
    delay = min(max_seconds, base_seconds * 2 ** max(0, attempts - 1))
    return delay * (0.5 + 0.5 * (rng or random).random())
