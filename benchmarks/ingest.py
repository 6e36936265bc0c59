"""Push ingestion through real HTTP into SQLite and PostgreSQL, and the instrumentation
client's overhead per tracked call.

    python benchmarks/ingest.py [--batches 600] [--batch-size 1000] [--clients 4] [--backends sqlite,postgres]

Starts `plugin-ai-analytics serve` as a subprocess (one process, as a user would run it) on a
fresh database, pre-encodes every JSON batch (so the load generator measures the server, not
its own JSON encoding), and posts them from concurrent keep-alive connections.

600 batches (600,000 samples, ~10 s per backend) by default: with 200 (~3-5 s) the server's first
seconds (connections opened, each pooled PostgreSQL connection's staging table, the detection
worker's first backlog) weigh on the rate and decide the p99, and two runs on the idle machine
gave SQLite 65,563 and 36,341 samples/s; BENCHMARKS.md shows both lengths.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

PG_ADMIN = os.environ.get("AI_ANALYTICS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_bodies(batches: int, size: int, plugins: int) -> list[tuple[str, bytes]]:
    start = 1_780_000_000
    bodies = []
    for b in range(batches):
        plugin = f"bench-{b % plugins}"
        base = start + (b // plugins) * size * 10
        samples = [
            {
                "timestamp": base + i * 10,
                "cpu_percent": 12.5 + (i % 17),
                "memory_mb": 512.0 + (i % 31),
                "response_time_ms": 20.0 + (i % 13),
                "response_time_p95_ms": 55.0 + (i % 7),
                "error_rate": 0.001 * (i % 5),
                "request_count": 1000 + i % 100,
                "active_users": 40 + i % 9,
            }
            for i in range(size)
        ]
        bodies.append((plugin, json.dumps({"samples": samples}).encode()))
    return bodies


def start_server(env: dict[str, str], cwd: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/plugin-ai-analytics"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/system-status", timeout=2).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start") from None
            time.sleep(0.2)


def post_all(url: str, bodies: list[tuple[str, bytes]], clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [bodies[i::clients] for i in range(clients)]
    errors: list[str] = []

    def worker(chunk: list[tuple[str, bytes]]) -> None:
        with httpx.Client(timeout=60, headers={"content-type": "application/json"}) as client:
            for plugin, body in chunk:
                t0 = time.perf_counter()
                r = client.post(f"{url}/collect-metrics/{plugin}", content=body)
                dt = time.perf_counter() - t0
                if r.status_code != 200:
                    errors.append(r.text[:200])
                with lock:
                    latencies.append(dt)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} batches failed, e.g. {errors[0]}")
    return elapsed, latencies


def bench_backend(name: str, args: argparse.Namespace, bodies: list[tuple[str, bytes]]) -> dict:
    tmp = tempfile.mkdtemp(prefix="ingest-bench-")
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": f"{tmp}/data",
        "AI_ANALYTICS_LOG_DIR": f"{tmp}/logs",
        "AI_ANALYTICS_LOG_LEVEL": "WARNING",
        "AI_ANALYTICS_INSECURE": "true",  # loopback only; benchmarks/retention.py pushes with a token
    }
    dbname = None
    if name == "postgres":
        from sqlalchemy import create_engine, text

        dbname = f"pa_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
        env["DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    proc, url = start_server(env, tmp)
    try:
        post_all(url, bodies[: max(2, len(bodies) // 20)], args.clients)  # warm-up (connections, caches)
        elapsed, latencies = post_all(url, bodies, args.clients)
        stored = sum(httpx.get(f"{url}/plugins/bench-{p}").json()["samples"] for p in range(args.plugins))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if dbname:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
    samples = len(bodies) * args.batch_size
    latencies.sort()
    return {
        "backend": name,
        "samples": samples,
        "stored_total": stored,
        "seconds": round(elapsed, 2),
        "samples_per_s": round(samples / elapsed),
        "batch_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "batch_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--plugins", type=int, default=10)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--skip-client", action="store_true")
    args = ap.parse_args()
    bodies = make_bodies(args.batches, args.batch_size, args.plugins)
    print(
        f"machine: {os.cpu_count()} cores; {args.batches} batches x {args.batch_size} samples, "
        f"{args.clients} concurrent clients, {args.plugins} plugins"
    )
    for backend in args.backends.split(","):
        result = bench_backend(backend, args, bodies)
        print(json.dumps(result))
    if not args.skip_client:
        # One measurement of the client, in its own script (also runnable alone).
        overhead = Path(__file__).with_name("client_overhead.py")
        subprocess.run([sys.executable, str(overhead), "--calls", "500000", "--repeats", "3"], check=True)


if __name__ == "__main__":
    main()
