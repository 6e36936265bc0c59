"""The I/O of alerting: one notification sent to one contact point, and the receiver's answer
(delivered, worth retrying, or refused for good). HTTP through one pooled ``httpx`` client;
e-mail through ``smtplib``. Nothing here decides when to retry: the delivery worker does.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .._version import __version__
from ..security.outbound import Allowlist, OutboundRefused, guarded_request
from .payloads import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    alertmanager_alerts,
    email_message,
    sign,
    slack_message,
    webhook_body,
)

__all__ = ["Answer", "Senders"]

ANSWER_CHARS = 1000  # of a receiver's answer kept in the delivery log
_RETRY_HTTP = {408, 425, 429}


@dataclass(frozen=True)
class Answer:
    """How a receiver answered one attempt."""

    delivered: bool
    retryable: bool
    status: str | None  # "HTTP 202", "SMTP 250"; None when nothing answered
    answer: str  # the receiver's words, or what went wrong on the way
    retry_after: float | None = None  # seconds the receiver asked us to wait
    seconds: float = 0.0


class Senders:
    """Sends notifications; one instance per service (its HTTP connections are reused)."""

    def __init__(self, allow: Allowlist | None = None) -> None:
        # None: no guard (a caller that chose its own receivers); the service passes its allow-list
        self._allow = allow
        self._http = httpx.Client(
            headers={"User-Agent": f"plugin-ai-analytics/{__version__}"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def send(self, point: dict[str, Any], document: dict[str, Any], key: str) -> Answer:
        """Deliver ``document`` (the stored notification) to ``point`` (its spec with secrets)."""
        started = time.perf_counter()
        kind = point["kind"]
        try:
            if kind == "email":
                answer = _send_email(point, document)
            else:
                answer = self._send_http(point, document, key)
        except Exception as exc:  # a sender must answer, whatever broke on the way
            answer = Answer(False, True, None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS])
        return Answer(**{**answer.__dict__, "seconds": round(time.perf_counter() - started, 4)})

    def _send_http(self, point: dict[str, Any], document: dict[str, Any], key: str) -> Answer:
        kind, url = point["kind"], point["url"]
        headers = {IDEMPOTENCY_HEADER: key, "Content-Type": "application/json"}
        if kind == "alertmanager":
            url = url.rstrip("/")
            if not url.endswith("/api/v2/alerts"):
                url += "/api/v2/alerts"
            body = webhook_body(alertmanager_alerts(document, int(time.time() * 1000)))  # type: ignore[arg-type]
        elif kind == "slack":
            body = webhook_body(slack_message(document))
        else:
            body = webhook_body(document)
            if point.get("secret"):
                headers[SIGNATURE_HEADER] = sign(point["secret"], body, int(time.time()))
        try:
            response = guarded_request(
                self._http,
                "POST",
                url,
                self._allow,
                content=body,
                headers=headers,
                timeout=point.get("timeout_seconds", 10),
            )
        except OutboundRefused as exc:  # a receiver on a forbidden address: retrying will not help
            return Answer(False, False, None, exc.message[:ANSWER_CHARS])
        except httpx.HTTPError as exc:
            return Answer(False, True, None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS])
        code = response.status_code
        text = response.text[:ANSWER_CHARS]
        if 200 <= code < 300:
            return Answer(True, False, f"HTTP {code}", text)
        retryable = code >= 500 or code in _RETRY_HTTP
        return Answer(False, retryable, f"HTTP {code}", text, _retry_after(response.headers.get("retry-after")))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _send_email(point: dict[str, Any], document: dict[str, Any]) -> Answer:
    message = email_message(document, sender=point["from_address"], recipients=point["to"])
    timeout = point.get("timeout_seconds", 10)
    security = point.get("smtp_security", "none")
    try:
        if security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                point["smtp_host"], point["smtp_port"], timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(point["smtp_host"], point["smtp_port"], timeout=timeout)
        with client:
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if point.get("username"):
                client.login(point["username"], point.get("password") or "")
            refused = client.send_message(message)
            code, words = client.noop()
    except smtplib.SMTPRecipientsRefused as exc:
        return Answer(False, False, "SMTP refused", str(exc.recipients)[:ANSWER_CHARS])
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return Answer(False, exc.smtp_code < 500, f"SMTP {exc.smtp_code}", text[:ANSWER_CHARS])
    except (OSError, smtplib.SMTPException) as exc:
        return Answer(False, True, None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS])
    if refused:
        return Answer(True, False, "SMTP 250", f"accepted, but refused for {sorted(refused)}"[:ANSWER_CHARS])
    return Answer(
        True, False, "SMTP 250", f"accepted for {len(point['to'])} recipient(s); {code} {words!r}"[:ANSWER_CHARS]
    )
