"""Fixtures that build real things: a service on a real database (SQLite file or a fresh
PostgreSQL database), and the real HTTP server in front of it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from plugin_ai_analytics.config import Settings
from plugin_ai_analytics.service import AnalyticsService

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("AI_ANALYTICS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[1]
# Every test service accepts this admin token (AI_ANALYTICS_ADMIN_TOKEN); tests of access control
# make their own tokens of each role.
TEST_ADMIN_TOKEN = "test-admin-token-" + "0" * 32
AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
NAB = REPO.parent / "shared" / "data" / "nab"


def unavailable(reason: str) -> None:
    """Skip on a laptop without the service; under CI=true a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for the block, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pa_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    with fresh_database() as url:
        yield url


@contextmanager
def served(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``plugin-ai-analytics serve`` as its own process on a free port, data in ``tmp_path / 'data'``,
    the test admin token, ``env`` added (``AI_ANALYTICS_…``); yields the process and the API's base
    URL once it answers; killed afterwards if the test has not ended it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)],
        env={
            **os.environ,
            "AI_ANALYTICS_DATA_DIR": str(tmp_path / "data"),
            "AI_ANALYTICS_LOG_DIR": str(tmp_path),
            "AI_ANALYTICS_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
            **env,
        },
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/plugin-ai-analytics"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/system-status", timeout=1, headers=AUTH).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start"
                assert process.poll() is None, "the server exited"
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'analytics.db'}"
    return request.getfixturevalue("postgres_url")


def make_settings(tmp_path: Path, database_url: str | None = None, **extra: object) -> Settings:
    """Settings for a test service: its own data and logs, the test admin token (send ``AUTH``),
    and outbound requests allowed to loopback (the test servers of sources live there)."""
    values: dict[str, object] = {
        "admin_token": TEST_ADMIN_TOKEN,
        "outbound_allow": "127.0.0.0/8,::1",
        # Starlette's TestClient (and tools built on it) call the app as host "testserver"
        "allowed_hosts": "localhost,127.0.0.1,[::1],testserver",
        **extra,
    }
    return Settings(
        data_dir=tmp_path / "data",
        log_dir=tmp_path / "logs",
        database_url=database_url,
        cpu_cores=4,
        **values,
    )


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[AnalyticsService]:
    svc = AnalyticsService(make_settings(tmp_path, database_url))
    svc.start()
    yield svc
    svc.close()


class LiveServer:
    """The real app under uvicorn on a free port, in a thread."""

    def __init__(self, service: AnalyticsService, port: int | None = None) -> None:
        import uvicorn

        from plugin_ai_analytics.api.app import create_app

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(service), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def server(service: AnalyticsService) -> Iterator[LiveServer]:
    live = LiveServer(service).start()
    yield live
    live.stop()


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/plugin-ai-analytics", timeout=30, headers=AUTH) as client:
        yield client
