"""A real webhook receiver, a Slack-compatible incoming webhook and an SMTP server each receive
what they should: the alert's plugin, metric, severity, summary, evidence, recommended actions and
dashboard link, the idempotency key, and (webhook) a signature the receiver can check."""

from __future__ import annotations

import email
import json
import time

from plugin_ai_analytics.alerting import SIGNATURE_HEADER, sign, verify_signature
from plugin_ai_analytics.service import AnalyticsService

from ..receivers import SmtpServer, WebhookReceiver, wait_for
from .conftest import configure, deliveries, open_event

SECRET = "a-shared-secret-of-32-characters!"


def test_a_webhook_gets_the_alert_signed_and_keyed_then_its_resolution(
    alert_service: AnalyticsService, webhook: WebhookReceiver
) -> None:
    configure(alert_service, [{"name": "hook", "kind": "webhook", "url": webhook.url, "secret": SECRET}])
    open_event(alert_service, "shop", severity="High")
    (first,) = wait_for(lambda: webhook.requests[:1], 5, "the firing notification")
    body = first.json
    assert body["status"] == "firing" and body["receiver"] == "hook" and body["policy"] == "everything"
    assert body["groupLabels"] == {"plugin_id": "shop"}
    assert first.key == body["idempotencyKey"]
    assert verify_signature(SECRET, first.body, first.headers[SIGNATURE_HEADER.lower()], int(time.time()))
    (alert,) = body["alerts"]
    assert (alert["plugin_id"], alert["metric"], alert["severity"], alert["rule"]) == (
        "shop",
        "error_rate",
        "High",
        "anomaly",
    )
    assert alert["summary"].startswith("shop: High anomaly (spike) in error_rate, response_time_ms")
    assert alert["evidence"]["error_rate"]["observed"] == 0.35
    assert alert["evidence"]["response_time_ms"]["expected"] == 40.1
    assert alert["recommended_actions"] == [
        "Check the plugin's dependencies",
        "Roll back the last deployment if it coincides",
    ]
    assert alert["dashboard_url"] == "http://dashboard.example:8000/plugin-ai-analytics#/plugin/shop"
    assert alert["labels"]["severity"] == "High" and alert["status"] == "firing"
    assert len(alert["fingerprint"]) == 32

    open_event(alert_service, "shop", severity="High", state="closed")
    second = wait_for(lambda: webhook.requests[1:2], 5, "the resolve notification")[0]
    assert second.json["status"] == "resolved"
    assert second.json["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert second.json["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert second.key != first.key
    assert webhook.forged == []


def test_an_escalation_is_notified_and_growth_alone_is_not(alert_service: AnalyticsService, webhook) -> None:
    configure(alert_service, [{"name": "hook", "kind": "webhook", "url": webhook.url, "secret": SECRET}])
    open_event(alert_service, "shop", severity="Low")
    wait_for(lambda: webhook.requests[:1], 5, "the first notification")
    open_event(alert_service, "shop", severity="Low")  # the event grew: same severity, same metrics
    open_event(alert_service, "shop", severity="High")
    second = wait_for(lambda: webhook.requests[1:2], 5, "the escalation")[0]
    assert second.json["alerts"][0]["severity"] == "High"
    time.sleep(1.5)
    assert len(webhook.requests) == 2


def test_a_wrong_signature_is_refused_by_the_receiver_and_not_retried(alert_service: AnalyticsService, webhook) -> None:
    configure(
        alert_service, [{"name": "hook", "kind": "webhook", "url": webhook.url, "secret": "not-the-shared-secret!!"}]
    )
    open_event(alert_service, "shop")
    wait_for(lambda: webhook.forged, 5, "the receiver to refuse a forged request")
    (dead,) = wait_for(lambda: deliveries(alert_service, state="dead"), 5, "the delivery to be marked dead")
    assert dead.last_status == "HTTP 401" and dead.attempts == 1
    assert webhook.requests == []


def test_what_the_receiver_checks_catches_a_changed_body_a_wrong_key_and_a_replay() -> None:
    body = json.dumps({"alerts": []}).encode()
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert verify_signature(SECRET, body, header, now)
    assert not verify_signature(SECRET, body + b" ", header, now)
    assert not verify_signature("another secret", body, header, now)
    assert not verify_signature(SECRET, body, header, now + 301)  # replayed after five minutes
    assert not verify_signature(SECRET, body, None, now)


def test_a_slack_compatible_webhook_gets_a_message_it_accepts(alert_service: AnalyticsService, slack) -> None:
    configure(alert_service, [{"name": "chat", "kind": "slack", "url": slack.url}], group_by=["rule"])
    for i in range(25):
        open_event(alert_service, f"shop-{i:02d}")
    wait_for(lambda: sum(len(r.json["text"].splitlines()) - 1 for r in slack.requests) >= 21, 10, "25 alerts in Slack")
    message = slack.requests[-1].json
    text = message["text"]
    first = text.splitlines()[0]
    assert first.startswith("[FIRING:") and "PluginAnomaly" in first
    assert "shop-00 · error_rate — shop-00: High anomaly" in text
    assert "<http://dashboard.example:8000/plugin-ai-analytics#/plugin/shop-00|dashboard>" in text
    assert message["blocks"][0]["type"] == "section"
    assert any("Recommended actions" in b.get("text", {}).get("text", "") for b in message["blocks"])
    if "FIRING:25" in first:
        assert "… and 5 more" in text
    assert all(d.last_answer == "ok" for d in deliveries(alert_service, contact_point="chat"))


def test_an_email_goes_out_over_smtp_with_everything_an_operator_needs(
    alert_service: AnalyticsService, smtp: SmtpServer
) -> None:
    point = {
        "name": "mail",
        "kind": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "from_address": "alerts@plugins.example",
        "to": ["oncall@plugins.example", "lead@plugins.example"],
    }
    configure(alert_service, [point])
    open_event(alert_service, "shop")
    (envelope,) = wait_for(lambda: smtp.messages[:1], 5, "the e-mail")
    assert envelope.mail_from == "alerts@plugins.example"
    assert envelope.rcpt_tos == ["oncall@plugins.example", "lead@plugins.example"]
    message = email.message_from_bytes(envelope.content)
    (delivery,) = deliveries(alert_service, contact_point="mail")
    assert message["Subject"] == "[FIRING:1] shop: PluginAnomaly"
    assert message["Message-ID"] == f"<{delivery.idempotency_key}@plugin-ai-analytics>"
    text = message.get_payload(decode=True).decode()
    assert "FIRING High shop error_rate" in text
    assert "shop: High anomaly (spike)" in text
    assert "evidence: error_rate: observed 0.35, expected 0.004, lower 0.001, upper 0.006" in text
    assert "- Check the plugin's dependencies" in text
    assert "http://dashboard.example:8000/plugin-ai-analytics#/plugin/shop" in text
    assert delivery.state == "delivered" and delivery.last_status == "SMTP 250"
