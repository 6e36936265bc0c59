"""HTTP hygiene for every response and request, as one ASGI middleware: security headers (a
Content-Security-Policy without inline script, nosniff, no referrer, no framing), ``no-store``
on API answers, a trusted-hosts check (DNS rebinding), and JSON-only bodies on state-changing API
calls (a cross-site form or ``text/plain`` POST is refused before it reaches a route); and,
as a response starts, a hook (``after``) that writes the audit entry of the call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

__all__ = ["Hygiene", "PAGE_CSP"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

# Nothing inline: no script, no style attribute (sizes computed per value are set through the
# CSSOM by dashboard.js).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_STATE_CHANGING = {b"POST", b"PUT", b"PATCH", b"DELETE"}


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


class Hygiene:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_prefix: str,
        allowed_hosts: list[str],
        hsts: bool,
        after: Callable[[Scope, int], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.after = after
        self.api_prefix = api_prefix
        self.any_host = "*" in allowed_hosts
        self.hosts = {h.strip().lower() for h in allowed_hosts if h.strip()}
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if not self.any_host and _host_name(host) not in self.hosts:
            await _refuse(send, 400, "invalid_host", "this host name is not served here (AI_ANALYTICS_ALLOWED_HOSTS)")
            return
        path: str = scope["path"]
        is_api = path.startswith(self.api_prefix)
        if is_api and scope["method"].encode() in _STATE_CHANGING and not _json_or_empty(headers):
            await _refuse(send, 415, "unsupported_media_type", "send the body as application/json")
            return

        audited = [False]

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                if self.after is not None:
                    # before the client learns the outcome, so what it saw is already on record
                    audited[0] = True
                    await self.after(scope, message["status"])
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", (_API_CSP if is_api else PAGE_CSP).encode()))
                if is_api and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if self.after is not None and not audited[0]:
                await self.after(scope, 500)  # the call crashed before answering


def _json_or_empty(headers: dict[bytes, bytes]) -> bool:
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if not kind:
        # No declared type is accepted only without a body (POST /train-models/... from curl).
        return headers.get(b"content-length", b"0") in (b"0", b"") and b"transfer-encoding" not in headers
    return kind == b"application/json" or kind.endswith(b"+json")


async def _refuse(send: Any, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": code, "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
