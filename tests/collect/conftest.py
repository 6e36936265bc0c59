"""Real things the collection tests measure: child processes, HTTP exporters and a Prometheus
server, each started on a free local port and stopped when the test is done."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def proc_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` straight from /proc, independent of psutil."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Allocates and touches ~50 MiB (so it is resident), then spins or sleeps until killed.
CHILD_CODE = (
    "import sys, time\n"
    "block = bytes(range(256)) * (50 * 4096)\n"
    "print('ready', flush=True)\n"
    "if sys.argv[1] == 'busy':\n"
    "    while True: pass\n"
    "while True: time.sleep(1)\n"
)


class Child:
    def __init__(self, mode: str, marker: str, executable: str = sys.executable) -> None:
        self.popen = subprocess.Popen([executable, "-c", CHILD_CODE, mode, marker], stdout=subprocess.PIPE, text=True)
        assert self.popen.stdout is not None
        assert self.popen.stdout.readline().strip() == "ready"
        self.pid = self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)
        if self.popen.stdout:
            self.popen.stdout.close()


@pytest.fixture
def spawn_child() -> Iterator:
    children: list[Child] = []

    def spawn(mode: str, marker: str, executable: str = sys.executable) -> Child:
        child = Child(mode, marker, executable)
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.stop()


class TextExporter:
    """Serves whatever exposition text the test sets, over real HTTP."""

    def __init__(self) -> None:
        self.text = ""
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def text_exporter() -> Iterator[TextExporter]:
    exporter = TextExporter()
    yield exporter
    exporter.close()


PROMETHEUS_JOB = "paa-test"


class PromServer:
    def __init__(self, url: str, exporter_registry, metrics) -> None:
        self.url = url
        self.registry = exporter_registry
        self.metrics = metrics


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory) -> Iterator[PromServer]:
    """A real Prometheus scraping a real prometheus_client exporter every second.

    The exporter's counters are driven to known values before Prometheus starts, so the queries
    have exact answers: 10 requests, 1 of them a 500, durations 0.01 s x 9 and 0.1 s x 1.
    """
    binary = shutil.which("prometheus")
    if binary is None:
        message = "prometheus binary not found; install it with: apt-get install -y prometheus"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)

    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
    from prometheus_client.exposition import start_http_server

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    requests = Counter("http_requests", "requests", ["status"], registry=registry)
    duration = Histogram("http_request_duration_seconds", "latency", registry=registry)
    users = Gauge("active_users", "users", registry=registry)
    for i in range(10):
        requests.labels(status="500" if i == 0 else "200").inc()
        duration.observe(0.1 if i == 0 else 0.01)
    users.set(7)
    exporter, exporter_thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    exporter_port = exporter.server_port

    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: {PROMETHEUS_JOB}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        def has_data() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"prometheus exited: {(workdir / 'prometheus.log').read_text()}")
            try:
                body = httpx.get(
                    f"{url}/api/v1/query",
                    params={"query": f'sum(http_requests_total{{job="{PROMETHEUS_JOB}"}})'},
                    timeout=2,
                ).json()
            except (httpx.HTTPError, ValueError):
                return False
            result = body.get("data", {}).get("result") or []
            return bool(result) and float(result[0]["value"][1]) == 10

        wait_until(has_data, timeout=45, interval=0.5, what="Prometheus to scrape the exporter")
        yield PromServer(url, registry, {"requests": requests, "duration": duration})
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        exporter.shutdown()
        exporter.server_close()
        exporter_thread.join(5)
