"""What the API answers when something goes wrong that no route answers itself, as two ASGI
middlewares (no thread, no database):

- ``Faults`` catches every unexpected exception: a database that cannot serve now (down,
  refusing connections, stalled behind a lock, pool exhausted, SQLite busy;
  ``store.database.is_unavailable``) is a 503 with ``Retry-After`` and a generic message; anything
  else is a 500 with a generic message. Both carry a ``request_id`` (also the ``X-Request-ID``
  header) under which the details are in the log: never the driver's text, which names the
  database's host, port and name. A plain-text 500 cannot leave the service.
- ``InFlightLimit`` answers 503 with ``Retry-After`` at once when ``limit`` requests are already
  being served, instead of queueing them for the worker threads: a stalled database then holds
  at most ``limit`` threads and connections, and the probes (never counted) still answer.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import MutableMapping
from typing import Any

import orjson

from ..logs import log_event
from ..service import is_unavailable

__all__ = ["Faults", "InFlightLimit", "UNAVAILABLE_MESSAGE", "error_body"]

Scope = MutableMapping[str, Any]

UNAVAILABLE_MESSAGE = "the database is unavailable or busy; retry after the time in Retry-After"
_INTERNAL_MESSAGE = "internal error; the service log has the details under this request_id"
_BUSY_MESSAGE = "the service is at its limit of requests in flight; retry after the time in Retry-After"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new one (kept in the scope)."""
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        state["request_id"] = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    return state["request_id"]


def error_body(status: int, exc: BaseException, scope: Scope, retry_after: int) -> tuple[dict[str, Any], dict]:
    """The JSON body and headers answering ``exc`` (unexpected), after logging it in full."""
    rid = request_id(scope)
    where = f"{scope.get('method', '?')} {scope.get('path', '?')}"
    headers = {"X-Request-ID": rid}
    if status == 503:
        log_event(logging.WARNING, "database", f"unavailable during {where} request_id={rid}: {exc!r}")
        headers["Retry-After"] = str(retry_after)
        body = {"error": "unavailable", "message": UNAVAILABLE_MESSAGE, "retry_after": retry_after}
    else:
        log_event(
            logging.ERROR,
            "request",
            f"unexpected error in {where} request_id={rid}: {exc!r}\n{''.join(traceback.format_exception(exc))}",
        )
        body = {"error": "internal_error", "message": _INTERNAL_MESSAGE}
    body["request_id"] = rid
    return body, headers


def status_for(exc: BaseException) -> int:
    return 503 if is_unavailable(exc) else 500


async def send_json(send: Any, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    data = orjson.dumps(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class Faults:
    """Every unexpected exception of an HTTP request becomes a JSON 503 or 500 (see the module)."""

    def __init__(self, app: Any, *, retry_after: int) -> None:
        self.app = app
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = [False]

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started[0]:
                raise  # the status line is out: nothing left to answer but closing the connection
            status = status_for(exc)
            body, headers = error_body(status, exc, scope, self.retry_after)
            await send_json(send, status, body, headers)


class InFlightLimit:
    """At most ``limit`` HTTP requests served at once (``exempt`` paths are not counted); beyond
    that 503 with ``Retry-After`` at once. The counter lives on the event loop: no lock needed."""

    def __init__(self, app: Any, *, limit: int, retry_after: int, exempt: frozenset[str]) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.exempt = exempt
        self.in_flight = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.refused += 1
            rid = request_id(scope)
            body = {"error": "unavailable", "message": _BUSY_MESSAGE, "retry_after": self.retry_after}
            body["request_id"] = rid
            # outside the hygiene layer: its one header that matters on a JSON error is added here
            headers = {"Retry-After": str(self.retry_after), "X-Request-ID": rid, "X-Content-Type-Options": "nosniff"}
            await send_json(send, 503, body, headers)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
