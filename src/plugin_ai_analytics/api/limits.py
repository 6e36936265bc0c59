"""The request body limit, applied as the body arrives: a declared ``Content-Length`` over the
limit is refused before one byte of the body is read, and a body sent without one (chunked) is
counted chunk by chunk and refused the moment it passes the limit, so a 50 MB body costs the
service at most the limit in memory, never the whole body. The refusal is a 413 JSON error, and
the connection is closed after it (the rest of the body is not waited for)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException

__all__ = ["BodyLimit", "BodyTooLarge"]

Scope = MutableMapping[str, Any]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes the limit. An ``HTTPException``, so FastAPI's
    body parsing lets it through unchanged and the app's handler answers it (api/contract.py)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=_message(limit), headers={"Connection": "close"})
        self.limit = limit


def _message(limit: int) -> str:
    return f"body: over the limit of {limit} bytes (AI_ANALYTICS_MAX_BODY_BYTES)"


class BodyLimit:
    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, self.max_bytes)
            return
        received = 0
        started = False

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watching_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            # Read outside a route (a middleware): no handler answered it.
            if started:
                raise
            await _refuse(send, self.max_bytes)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Any, limit: int) -> None:
    body = orjson.dumps({"error": "payload_too_large", "message": _message(limit), "field": "body", "limit": limit})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
