"""What a notification says, as each kind of receiver reads it: the notification document (the
shape of Alertmanager's own webhook, plus the evidence, the recommended actions and an
idempotency key), Alertmanager's v2 ``POST /api/v2/alerts`` body, a Slack message and an e-mail;
and the webhook signature (HMAC-SHA256) with the check a receiver runs. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from ..times import ms_to_iso
from .model import Alert
from .routing import ALERTMANAGER_RESEND_MS, Target

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "alertmanager_alerts",
    "email_message",
    "notification",
    "sign",
    "slack_message",
    "verify_signature",
    "webhook_body",
]

SIGNATURE_HEADER = "X-Plugin-Analytics-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SLACK_LISTED = 20  # alerts listed one by one in a Slack message; the rest are counted
_ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "not set"


def notification(
    *,
    target: Target,
    firing: Sequence[Alert],
    resolved: Sequence[Alert],
    idempotency_key: str,
    external_url: str,
) -> dict[str, Any]:
    """The notification of one group flush, as stored in the outbox and sent (as is) to webhooks."""
    base = external_url.rstrip("/")
    alerts = [_alert(a, "firing", base) for a in firing] + [_alert(a, "resolved", base) for a in resolved]
    labels = [a["labels"] for a in alerts]
    common = dict(set.intersection(*(set(d.items()) for d in labels))) if labels else {}
    return {
        "version": "4",
        "status": "firing" if firing else "resolved",
        "receiver": target.contact_point,
        "policy": target.policy,
        "groupKey": target.group_id,
        "groupLabels": target.group_labels,
        "commonLabels": common,
        "externalURL": base + "/plugin-ai-analytics",
        "idempotencyKey": idempotency_key,
        "firing": len(firing),
        "resolved": len(resolved),
        "alerts": alerts,
    }


def _alert(alert: Alert, status: str, base: str) -> dict[str, Any]:
    url = base + alert.dashboard
    return {
        "status": status,
        "fingerprint": alert.fingerprint,
        "rule": alert.rule,
        "plugin_id": alert.plugin_id,
        "metric": alert.metric,
        "severity": alert.severity,
        "summary": alert.summary,
        "evidence": alert.evidence,
        "recommended_actions": list(alert.actions),
        "dashboard_url": url,
        "labels": alert.labels,
        "annotations": {
            "summary": alert.summary,
            "description": evidence_text(alert.evidence),
            "recommended_actions": "\n".join(alert.actions),
            "dashboard_url": url,
        },
        "startsAt": ms_to_iso(alert.starts_at),
        "endsAt": ms_to_iso(alert.ends_at) if status == "resolved" and alert.ends_at else _ZERO_TIME,
        "generatorURL": url,
    }


def evidence_text(evidence: dict[str, Any]) -> str:
    """The evidence in one line per item (``response_time_ms: observed 332, expected 40.1 ...``)."""
    lines = []
    for key, value in evidence.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {_number(v)}" for k, v in value.items() if not isinstance(v, dict | list))
            lines.append(f"{key}: {inner}")
        elif isinstance(value, list):
            lines.append(f"{key}: {', '.join(_number(v) for v in value)}")
        else:
            lines.append(f"{key}: {_number(value)}")
    return "\n".join(lines)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def webhook_body(document: dict[str, Any]) -> bytes:
    """The exact bytes POSTed to a webhook (and signed): compact JSON with sorted keys."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``.
    The timestamp is signed with the body, so a captured request cannot be replayed later."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str | None, now: int, tolerance_seconds: int = 300) -> bool:
    """What a receiver checks (docs/alerting.md shows the same in a few lines): the header's HMAC
    matches the raw body and the timestamp is within ``tolerance_seconds`` of ``now`` (seconds)."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def alertmanager_alerts(document: dict[str, Any], sent_at_ms: int) -> list[dict[str, Any]]:
    """Alertmanager's ``POST /api/v2/alerts`` body. A firing alert is valid for four resend
    periods (it is sent again every minute while it fires, so an Alertmanager resolves it on its
    own only if this service stops); a resolved one ends when it ended."""
    valid_until = ms_to_iso(sent_at_ms + 4 * ALERTMANAGER_RESEND_MS)
    out = []
    for a in document["alerts"]:
        out.append(
            {
                "labels": a["labels"],
                "annotations": {k: str(v) for k, v in a["annotations"].items() if v},
                "startsAt": a["startsAt"],
                "endsAt": valid_until if a["status"] == "firing" else a["endsAt"],
                "generatorURL": a["generatorURL"],
            }
        )
    return out


def _slack_escape(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(document: dict[str, Any]) -> str:
    """``[FIRING:2] web-shop: PluginAnomaly`` — what a subject line or a chat message leads with."""
    status = document["status"].upper()
    count = document["firing"] if document["status"] == "firing" else document["resolved"]
    group = ", ".join(f"{v}" for v in document["groupLabels"].values() if v) or document["policy"]
    names = sorted({a["labels"].get("alertname", a["rule"]) for a in document["alerts"]})
    return f"[{status}:{count}] {group}: {', '.join(names[:3])}{' …' if len(names) > 3 else ''}"


def slack_message(document: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message (``text`` for any Slack-compatible receiver, ``blocks`` for Slack)."""
    alerts = document["alerts"]
    lines = []
    for a in alerts[:SLACK_LISTED]:
        mark = "✅ resolved" if a["status"] == "resolved" else f"*{a['severity']}*"
        where = " · ".join(_slack_escape(x) for x in (a["plugin_id"], a["metric"]) if x)
        lines.append(f"{mark} {where} — {_slack_escape(a['summary'])} <{a['dashboard_url']}|dashboard>")
    if len(alerts) > SLACK_LISTED:
        lines.append(f"… and {len(alerts) - SLACK_LISTED} more")
    title = _slack_escape(headline(document))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}]
    for line in lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line[:3000]}})
    first = alerts[0] if alerts else None
    if first and first["recommended_actions"] and first["status"] == "firing":
        steps = "\n".join(f"• {_slack_escape(s)}" for s in first["recommended_actions"][:5])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Recommended actions*\n{steps}"[:3000]}})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"idempotency key {document['idempotencyKey']}"}]}
    )
    return {"text": title + "\n" + "\n".join(lines), "blocks": blocks[:50]}


def email_message(document: dict[str, Any], *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A plain-text e-mail; its Message-ID carries the idempotency key, so a repeat is the same message."""
    message = EmailMessage()
    message["Subject"] = headline(document)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = f"<{document['idempotencyKey']}@plugin-ai-analytics>"
    message["X-Idempotency-Key"] = document["idempotencyKey"]
    parts = [headline(document), ""]
    for a in document["alerts"]:
        parts.append(
            f"{a['status'].upper()} {a['severity']} {a['plugin_id'] or 'service'} {a['metric'] or ''}".rstrip()
        )
        parts.append(f"  {a['summary']}")
        for line in a["annotations"]["description"].splitlines():
            parts.append(f"  evidence: {line}")
        for step in a["recommended_actions"]:
            parts.append(f"  - {step}")
        parts.append(f"  since {a['startsAt']}" + (f", ended {a['endsAt']}" if a["status"] == "resolved" else ""))
        parts.append(f"  {a['dashboard_url']}")
        parts.append("")
    message.set_content("\n".join(parts))
    return message
