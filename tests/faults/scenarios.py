"""The database-fault scenarios of issue 16, run against a real service process on a real
PostgreSQL database: a lock held on ``metrics`` while clients push, and the database refusing
connections while the instrumentation client and a PromQL-source collector run. The tests run
them short; ``benchmarks/faults.py`` runs them at full length and prints the figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from plugin_ai_analytics.collect.client import PluginMonitor

from ..conftest import AUTH, PG_ADMIN_URL, TEST_ADMIN_TOKEN, free_port

API = "/api/plugin-ai-analytics"


def assert_no_address(answer: str, database_url: str) -> None:
    """No part of the database's address in an answer: host, port, database or user name."""
    for word in ("127.0.0.1", "localhost", "5432", _database_name(database_url)):
        assert word not in answer, f"{word!r} in an answer: {answer[:500]}"
    assert not re.search(r"\bpostgres\b", answer), f"the user name in an answer: {answer[:500]}"


class ServiceProcess:
    """``plugin-ai-analytics serve`` in a process of its own, on ``database_url``."""

    def __init__(self, database_url: str, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = workdir / "data"
        self.log = workdir / "server.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "AI_ANALYTICS_DATA_DIR": str(self.data_dir),
            "AI_ANALYTICS_LOG_DIR": str(workdir),
            "AI_ANALYTICS_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
            "AI_ANALYTICS_OUTBOUND_ALLOW": "127.0.0.0/8",
            **env,
        }
        self.workdir = workdir

    def __enter__(self) -> ServiceProcess:
        out = self.log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(self.port)],
            env=self.env,
            cwd=self.workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, f"the service exited: {self.log.read_text()[-3000:]}"
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.2)
        self.settle()
        return self

    def settle(self, quick: float = 0.05, run: int = 20, most: float = 20.0) -> None:
        """Wait until start-up work (lazy imports, the detection worker loading) is over: ``run``
        liveness answers in a row within ``quick`` seconds, or ``most`` seconds. The scenarios
        measure the fault, not the start."""
        deadline = time.monotonic() + most
        streak = 0
        with httpx.Client(timeout=10) as client:
            while streak < run and time.monotonic() < deadline:
                start = time.perf_counter()
                client.get(self.url + "/healthz")
                streak = streak + 1 if time.perf_counter() - start < quick else 0
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _database_name(database_url: str) -> str:
    return database_url.rsplit("/", 1)[1]


def count_rows(database_url: str, plugin_prefix: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT plugin_id, count(*) FROM metrics WHERE plugin_id LIKE :p GROUP BY plugin_id"),
                {"p": plugin_prefix + "%"},
            )
            return {pid: int(n) for pid, n in rows}
    finally:
        engine.dispose()


@contextmanager
def metrics_locked(database_url: str) -> Iterator[None]:
    """``LOCK TABLE metrics IN ACCESS EXCLUSIVE MODE`` held from another connection."""
    engine = create_engine(database_url)
    conn = engine.connect()
    trans = conn.begin()
    conn.execute(text("LOCK TABLE metrics IN ACCESS EXCLUSIVE MODE"))
    try:
        yield
    finally:
        trans.rollback()
        conn.close()
        engine.dispose()


@contextmanager
def connections_refused(database_url: str) -> Iterator[None]:
    """The database refuses new connections and its open ones are cut, then allows them again."""
    name = _database_name(database_url)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()


# The liveness prober, in a process of its own so the clients' threads in this one cannot delay
# it: one line "<monotonic start> <latency or inf>" per call, until terminated.
_PROBER = """
import signal, sys, time, httpx
url, every, out = sys.argv[1], float(sys.argv[2]), open(sys.argv[3], "w", buffering=1)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
with httpx.Client(timeout=10) as client:
    while not stop:
        at = time.monotonic()
        start = time.perf_counter()
        try:
            ok = client.get(url + "/healthz").status_code == 200
        except httpx.HTTPError:
            ok = False
        out.write(f"{at} {time.perf_counter() - start if ok else float('inf')}\\n")
        time.sleep(every)
"""


class Prober:
    """Calls ``/healthz`` every ``every`` seconds from another process until stopped; keeps each
    call's start (``time.monotonic``, the same clock in every process) and latency (a failed or
    timed-out call counts as infinite)."""

    def __init__(self, url: str, workdir: Path, every: float = 0.02) -> None:
        self.url, self.every, self.path = url, every, workdir / "healthz.txt"
        self.latencies: list[float] = []
        self.times: list[float] = []

    def __enter__(self) -> Prober:
        self.proc = subprocess.Popen([sys.executable, "-c", _PROBER, self.url, str(self.every), str(self.path)])
        deadline = time.monotonic() + 20
        while not (self.path.exists() and self.path.stat().st_size):  # probing before we go on
            assert time.monotonic() < deadline and self.proc.poll() is None, "the prober did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        for line in self.path.read_text().splitlines():
            at, latency = line.split()
            self.times.append(float(at))
            self.latencies.append(float(latency))


def lock_scenario(
    database_url: str, workdir: Path, *, clients: int, lock_seconds: float, batch: int = 20, timeout: float = 15.0
) -> dict[str, Any]:
    """``clients`` threads push batches (each its own plugin, distinct timestamps) while the
    metrics table is locked for ``lock_seconds``; a refused batch is retried (after Retry-After)
    until stored. Afterwards each client re-sends its first stored batch once more, as a client
    does whose answer was lost. Returns every push, the healthz latencies and the row counts."""
    pushes: list[dict[str, Any]] = []
    acked: dict[str, int] = {}
    resent: dict[str, dict] = {}
    lock_window: list[float] = []
    stop_new = threading.Event()
    base = time.time() - 86_400  # a day ago: inside retention, never in the future

    warm = threading.Barrier(clients + 1)
    go = threading.Event()

    def client(i: int) -> None:
        plugin = f"lock-{i}"
        first: list[dict] | None = None
        with httpx.Client(base_url=server.url + API, headers=AUTH, timeout=timeout) as http:
            k = 0
            while k == 0 or not stop_new.is_set():
                samples = [
                    {"timestamp": base + (k * batch + j), "cpu_percent": float(j), "request_count": k}
                    for j in range(batch)
                ]
                while True:
                    start = time.monotonic()
                    try:
                        r = http.post(f"/collect-metrics/{plugin}", json={"samples": samples})
                        status, body, retry = r.status_code, r.text, r.headers.get("retry-after")
                    except httpx.HTTPError as exc:
                        status, body, retry = None, repr(exc), None
                    pushes.append(
                        {
                            "start": start,
                            "seconds": time.monotonic() - start,
                            "status": status,
                            "body": body,
                            "retry_after": retry,
                        }
                    )
                    if status == 200:
                        acked[plugin] = acked.get(plugin, 0) + batch
                        first = first or samples
                        break
                    time.sleep(min(float(retry or 1), 2.0))
                if k == 0:  # a service in use: every client has pushed once before the lock
                    warm.wait(timeout * 4)
                    go.wait(timeout * 4)
                k += 1
            while first is not None:  # the answer "was lost": the same batch again, until taken
                r = http.post(f"/collect-metrics/{plugin}", json={"samples": first})
                if r.status_code == 200:
                    resent[plugin] = r.json()
                    break
                time.sleep(min(float(r.headers.get("retry-after") or 1), 2.0))

    with ServiceProcess(database_url, workdir, AI_ANALYTICS_SCHEDULER="false", AI_ANALYTICS_RETRY_AFTER="1") as server:
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        warm.wait(timeout * 4)
        server.settle()
        with Prober(server.url, workdir) as prober:
            with metrics_locked(database_url):
                lock_window.append(time.monotonic())
                go.set()
                time.sleep(lock_seconds)
                lock_window.append(time.monotonic())
            time.sleep(2)  # the clients' retries go through
            stop_new.set()
            for t in threads:
                t.join(timeout * 4)
        hung = sum(t.is_alive() for t in threads)
        status = httpx.get(server.url + API + "/system-status", headers=AUTH, timeout=30)
    during = [p for p in pushes if lock_window[0] <= p["start"] and p["start"] + p["seconds"] <= lock_window[1]]
    return {
        "pushes": pushes,
        "during_lock": during,
        "healthz": prober.latencies,
        "healthz_slow": [
            (round(t - lock_window[0], 2), round(x, 3))
            for t, x in zip(prober.times, prober.latencies, strict=False)
            if x > 0.1
        ],
        "lock_seconds": lock_window[1] - lock_window[0],
        "resent": resent,
        "acked": acked,
        "stored": count_rows(database_url, "lock-"),
        "hung": hung,
        "status_body": status.text,
    }


def _iso_ms(value: str) -> int:
    return int(round(datetime.fromisoformat(value).timestamp() * 1000))


def refusal_scenario(
    database_url: str,
    workdir: Path,
    prometheus_url: str,
    prometheus_job: str,
    *,
    outage_seconds: float,
    before_seconds: float = 3.0,
) -> dict[str, Any]:
    """The instrumentation client (a sample every 0.5 s) and a PromQL source (every second) run;
    the database refuses connections for ``outage_seconds``; then everything buffered must be
    stored, once. Returns what was answered during the outage and what was sent and stored."""
    out: dict[str, Any] = {"answers": []}
    with ServiceProcess(database_url, workdir, AI_ANALYTICS_RETRY_AFTER="1") as server:
        http = httpx.Client(base_url=server.url, headers=AUTH, timeout=30)
        query = f'sum(http_requests_total{{job="{prometheus_job}"}})'
        r = http.post(
            API + "/plugins",
            json={
                "plugin_id": "faults-promql",
                "interval_seconds": 1,
                "source": {"type": "promql", "url": prometheus_url, "queries": {"request_count": query}},
            },
        )
        assert r.status_code == 201, r.text
        monitor = PluginMonitor(
            "faults-client", endpoint=server.url, token=TEST_ADMIN_TOKEN, flush_interval=0.5, max_backoff=2.0
        )
        host_stop = threading.Event()
        host_worst = [0.0]

        def host() -> None:  # the instrumented application: its calls must never wait on delivery
            while not host_stop.is_set():
                start = time.perf_counter()
                with monitor.track():
                    pass
                host_worst[0] = max(host_worst[0], time.perf_counter() - start)
                time.sleep(0.001)

        host_thread = threading.Thread(target=host, daemon=True)
        host_thread.start()
        spool = server.data_dir / "spool" / "faults-promql.jsonl"
        time.sleep(before_seconds)
        with connections_refused(database_url):
            outage_start = time.time()
            time.sleep(min(2.0, outage_seconds / 2))
            push = http.post(
                API + "/collect-metrics/faults-direct",
                json={"samples": [{"timestamp": time.time(), "cpu_percent": 1.0}]},
            )
            ready = httpx.get(server.url + "/readyz", timeout=10)
            status = http.get(API + "/system-status")
            out["answers"] = [push, ready, status]
            time.sleep(max(0.0, outage_seconds - (time.time() - outage_start)))
            out["spooled"] = [_iso_ms(json.loads(line)["timestamp"]) for line in spool.read_text().splitlines()]
            spool_read_at = time.time()
            out["client_during"] = monitor.stats()
            outage_end = time.time()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (monitor.stats()["buffered"] > 1 or spool.exists()):
            time.sleep(0.2)
        host_stop.set()
        host_thread.join(5)
        monitor.close(timeout=10)
        out["client"] = monitor.stats()
        out["spool_left"] = spool.exists()
        out["host_worst_call_s"] = host_worst[0]
        http.close()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT plugin_id, ts FROM metrics WHERE plugin_id IN ('faults-client', 'faults-promql')")
        ).all()
    engine.dispose()
    out["client_rows"] = sum(1 for pid, _ in rows if pid == "faults-client")
    promql = sorted(ts for pid, ts in rows if pid == "faults-promql")
    out["promql_rows"] = promql
    out["promql_in_outage"] = [ts for ts in promql if outage_start * 1000 <= ts <= outage_end * 1000]
    # well inside the outage (a collection under way as it began or as the spool was read is
    # on either side): each of these could only have come through the spool
    out["promql_inside"] = [ts for ts in promql if (outage_start + 1) * 1000 <= ts <= (spool_read_at - 1) * 1000]
    out["promql_largest_gap_s"] = max((b - a for a, b in zip(promql, promql[1:], strict=False)), default=0) / 1000
    out["outage_seconds"] = outage_end - outage_start
    return out
