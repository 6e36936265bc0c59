"""Real receivers of notifications, each a server on a free local port: a webhook receiver and a
Slack-compatible incoming webhook (HTTP servers in a thread, which can be taken down and brought
back on the same port), and an SMTP server (aiosmtpd). Shared by the alerting and dashboard tests."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plugin_ai_analytics.alerting import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_signature


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str | None:
        return self.headers.get(IDEMPOTENCY_HEADER.lower())


class WebhookReceiver:
    """Records every POST; answers ``status`` (a Slack-compatible one answers ``ok`` and refuses a
    body without ``text`` as Slack does). ``secret`` makes it check the signature as documented:
    a request whose signature does not verify is refused with 401 and counted in ``forged``."""

    def __init__(self, *, slack: bool = False, secret: str | None = None, port: int = 0) -> None:
        self.slack = slack
        self.secret = secret
        self.status = 200
        self.requests: list[Received] = []
        self.forged: list[Received] = []
        self._lock = threading.Lock()
        self._port = port
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.start()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hooks/{'slack/T000/B000/XXXX' if self.slack else 'alerts'}"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so no idle keep-alive socket outlives the test
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status, answer = receiver._judge(got)
                payload = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Take the receiver down: its port refuses connections until ``start``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _judge(self, got: Received) -> tuple[int, str]:
        if self.secret is not None:
            if not verify_signature(self.secret, got.body, got.headers.get(SIGNATURE_HEADER.lower()), int(time.time())):
                with self._lock:
                    self.forged.append(got)
                return 401, "bad signature"
        if self.status >= 300:
            return self.status, "unavailable"
        if self.slack:
            try:
                text = json.loads(got.body).get("text")
            except ValueError:
                text = None
            if not text:
                return 400, "invalid_payload"
        with self._lock:
            self.requests.append(got)
        return 200, "ok"

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every notification received, in order."""
        with self._lock:
            return [a for r in self.requests for a in r.json.get("alerts", [])]

    def keys(self) -> list[str]:
        with self._lock:
            return [r.key for r in self.requests if r.key]


class SmtpServer:
    """A real SMTP server (aiosmtpd) that keeps every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from .conftest import free_port

        self.messages: list[Any] = []
        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                server.messages.append(envelope)
                return "250 Message accepted for delivery"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
