"""A scaled-out deployment started for real: Celery worker processes and API replicas (uvicorn,
``plugin-ai-analytics serve``) on one fresh PostgreSQL database and a real Redis broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plugin_ai_analytics.security.crypto import new_key

from ..conftest import AUTH, REPO, TEST_ADMIN_TOKEN, free_port, unavailable

REDIS = os.environ.get("AI_ANALYTICS_TEST_REDIS", "redis://127.0.0.1:6379")


def broker_url() -> str:
    """A Redis database of its own for this run (emptied before and after)."""
    import redis

    db = 8 + uuid.uuid4().int % 8
    url = f"{REDIS}/{db}"
    try:
        redis.Redis.from_url(url, socket_timeout=2).flushdb()
    except Exception as exc:
        unavailable(f"Redis is not reachable at {REDIS}: {type(exc).__name__}")
    return url


class Cluster:
    """Worker and API processes of one deployment; each writes its log in ``folder``."""

    def __init__(self, folder: Path, database_url: str, broker: str, **settings: str) -> None:
        self.folder = folder
        self.database_url = database_url
        self.broker = broker
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "DATABASE_URL": database_url,
            "AI_ANALYTICS_EXECUTOR": "celery",
            "AI_ANALYTICS_BROKER_URL": broker,
            "AI_ANALYTICS_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
            "AI_ANALYTICS_SECRET_KEY": new_key(),  # every process reads the same secrets
            "AI_ANALYTICS_DATA_DIR": str(folder / "data"),
            "AI_ANALYTICS_LOG_LEVEL": "INFO",
            "AI_ANALYTICS_CPU_CORES": "1",
            **settings,
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.out", "wb")  # noqa: SIM115 - closed by stop()
        self._logs.append(log)
        env = {**self.env, "AI_ANALYTICS_LOG_DIR": str(self.folder / f"logs-{name}")}
        process = subprocess.Popen(
            [sys.executable, "-m", "plugin_ai_analytics", *args],
            env=env,
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the pool children too
        )
        self.processes[name] = process
        return process

    def worker(self, name: str) -> subprocess.Popen:
        return self._spawn(name, "worker", "--concurrency", "1", "--hostname", f"{name}@test", "--loglevel", "INFO")

    def beat(self, name: str = "beat") -> subprocess.Popen:
        return self._spawn(name, "beat", "--loglevel", "INFO")

    def api(self, name: str) -> str:
        port = free_port()
        self._spawn(name, "serve", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    return url + "/api/plugin-ai-analytics"
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.processes[name].poll() is not None:
                raise RuntimeError(f"API {name} did not start: {self.output(name)[-2000:]}")
            time.sleep(0.2)

    def wait_for_workers(self, count: int, timeout: float = 60) -> list[str]:
        from plugin_ai_analytics.config import Settings
        from plugin_ai_analytics.worker import ping_workers

        settings = Settings(executor="celery", broker_url=self.broker)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            names = ping_workers(settings, timeout=1.0)
            if len(names) >= count:
                return names
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited: {self.output(dead[0])[-2000:]}")
        raise RuntimeError(f"only {names} of {count} workers answered")

    def kill(self, name: str) -> None:
        """``kill -9`` the process and its children (a worker's pool)."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def output(self, name: str) -> str:
        return (self.folder / f"{name}.out").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for log in self._logs:
            log.close()


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers=AUTH, timeout=30)


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator:
    made: list[Cluster] = []

    def make(database_url: str, broker: str, **settings: str) -> Cluster:
        folder = tmp_path / f"cluster{len(made)}"
        folder.mkdir()
        made.append(Cluster(folder, database_url, broker, **settings))
        return made[-1]

    yield make
    for cluster in made:
        cluster.stop()
