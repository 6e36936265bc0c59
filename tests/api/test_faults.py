"""What the API answers when something fails that no route answers itself: a JSON 500 with a
request id for an unexpected exception, a JSON 503 with Retry-After for a database that cannot
serve (a real refused connection, a real SQLite write lock), a 503 at once past the cap on
requests in flight; the probes open without a token. Real servers (uvicorn) throughout."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine

from plugin_ai_analytics.api.app import create_app
from plugin_ai_analytics.api.errors import install_error_handlers
from plugin_ai_analytics.api.faults import Faults, InFlightLimit
from plugin_ai_analytics.service import AnalyticsService

from ..conftest import AUTH, LiveServer, free_port, make_settings


class _Uvicorn:
    def __init__(self, app: FastAPI) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = int(self.url.rsplit(":", 1)[1])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def faulty() -> Iterator[tuple[str, threading.Event]]:
    """A small app with the service's error layers, whose routes fail in real ways."""
    app = FastAPI()
    install_error_handlers(app, unavailable_retry_after=7)
    release = threading.Event()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail: host db.internal port 6543")

    @app.get("/refused")
    def refused() -> None:
        # a real driver error: nothing listens on port 9 of loopback
        create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:9/analytics", connect_args={"connect_timeout": 2}
        ).connect()

    @app.get("/slow")
    async def slow() -> dict:
        for _ in range(200):
            if release.is_set():
                break
            await asyncio.sleep(0.05)
        return {"done": True}

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    app.add_middleware(Faults, retry_after=7)
    app.add_middleware(InFlightLimit, limit=1, retry_after=3, exempt=frozenset({"/healthz"}))
    server = _Uvicorn(app)
    yield server.url, release
    server.stop()


def test_an_unexpected_exception_is_a_json_500_with_a_request_id_and_no_detail(faulty) -> None:
    url, _ = faulty
    r = httpx.get(url + "/boom", headers={"X-Request-ID": "trace-42"})
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {
        "error": "internal_error",
        "message": "internal error; the service log has the details under this request_id",
        "request_id": "trace-42",
    }
    assert r.headers["x-request-id"] == "trace-42" and "db.internal" not in r.text
    # an id that is not a plain token is replaced by one of ours
    r = httpx.get(url + "/boom", headers={"X-Request-ID": "<script>"})
    assert r.json()["request_id"] != "<script>" and len(r.json()["request_id"]) == 32


def test_a_database_that_refuses_is_a_json_503_with_retry_after_and_no_address(faulty) -> None:
    url, _ = faulty
    r = httpx.get(url + "/refused", timeout=10)
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
    body = r.json()
    assert body["error"] == "unavailable" and body["retry_after"] == 7 and body["request_id"]
    assert "127.0.0.1" not in r.text and ":9" not in r.text and "analytics" not in r.text


def test_past_the_cap_on_requests_in_flight_the_answer_is_503_at_once_and_probes_still_answer(faulty) -> None:
    url, release = faulty
    with httpx.Client(base_url=url, timeout=15) as client:
        held = threading.Thread(target=client.get, args=("/slow",))
        held.start()
        time.sleep(0.5)  # the first request is in flight
        start = time.monotonic()
        r = client.get("/boom")
        assert r.status_code == 503 and r.headers["retry-after"] == "3" and time.monotonic() - start < 2
        assert r.json()["error"] == "unavailable"
        assert client.get("/healthz").status_code == 200  # not counted
        release.set()
        held.join(12)


@pytest.mark.slow  # a whole service, and a wait of its busy timeout
def test_sqlite_held_by_another_writer_is_a_503_within_its_busy_timeout(tmp_path: Path) -> None:
    db = tmp_path / "analytics.db"
    service = AnalyticsService(make_settings(tmp_path, f"sqlite:///{db}", sqlite_busy_timeout=1.0))
    service.start()
    server = LiveServer(service).start()
    writer = sqlite3.connect(db, timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process' write transaction holds the lock
        start = time.monotonic()
        r = httpx.post(
            server.url + "/api/plugin-ai-analytics/collect-metrics/busy",
            json={"samples": [{"timestamp": time.time(), "cpu_percent": 1.0}]},
            headers=AUTH,
            timeout=30,
        )
        assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
        assert time.monotonic() - start < 5  # the busy timeout, not SQLite's old 30 s
        assert str(tmp_path) not in r.text
        writer.rollback()
        r = httpx.post(
            server.url + "/api/plugin-ai-analytics/collect-metrics/busy",
            json={"samples": [{"timestamp": time.time(), "cpu_percent": 1.0}]},
            headers=AUTH,
            timeout=30,
        )
        assert r.status_code == 200
    finally:
        writer.close()
        server.stop()
        service.close()


def test_the_probes_answer_without_a_token_and_readiness_names_its_checks(tmp_path: Path) -> None:
    service = AnalyticsService(make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.db'}"))
    service.start()
    app = create_app(service)
    server = _Uvicorn(app)
    try:
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
        assert service.detection.warmed_up.wait(60)
        r = httpx.get(server.url + "/readyz")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ready" and body["failed"] == []
        assert set(body["checks"]) == {"database", "migrations", "job_queue", "start_up"}
        assert body["checks"]["migrations"]["schema"] == body["checks"]["migrations"]["expected"]
        # the schema behind this version's: readiness says so
        with service.store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
        r = httpx.get(server.url + "/readyz")
        assert r.status_code == 503 and r.json()["failed"] == ["migrations"] and r.headers["retry-after"]
    finally:
        server.stop()
        service.close()
