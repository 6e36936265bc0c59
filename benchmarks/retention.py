"""Retention deleting millions of expired rows while 4 clients keep pushing: push latency (p50,
p99) with retention running against the same pushes without it (issue 14: p99 within 2x).

    python benchmarks/retention.py [--rows 5000000] [--plugins 50] [--clients 4] [--seconds 30] [--batch 1000]

The service runs as its own process (uvicorn, as `serve` runs it) on a fresh SQLite file seeded
with ``--rows`` samples 40 days old spread over ``--plugins`` plugins. Four client threads push
10-sample batches (with an API token, as a real client would) every 20 ms each. Phase 1 measures
them alone for ``--seconds``; phase 2 measures them while the service runs retention in-process,
in a worker thread, exactly as its hourly schedule does (`AnalyticsService.apply_retention`),
until it has deleted every expired row.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

TOKEN = "retention-benchmark-token-" + "x" * 32
DAY = 86_400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data: Path, port: int) -> None:
    """The service process: the real app, plus a watcher that runs retention when asked."""
    import uvicorn

    from plugin_ai_analytics.api.app import create_app
    from plugin_ai_analytics.config import load_settings

    settings = load_settings()
    app = create_app(settings=settings)

    def watch() -> None:
        trigger = data / "run-retention"
        while not trigger.exists():
            time.sleep(0.05)
        started = time.perf_counter()
        deleted = app.state.service.apply_retention()
        (data / "retention-done.json").write_text(
            json.dumps({"deleted": deleted, "seconds": time.perf_counter() - started})
        )

    threading.Thread(target=watch, daemon=True).start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def seed(db: Path, rows: int, plugins: int) -> float:
    """``rows`` samples 40 days old (beyond the 30-day retention), written straight to SQLite."""
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    now = int(time.time())
    per = rows // plugins
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    for p in range(plugins):
        pid = f"old-{p}"
        conn.execute(
            "INSERT INTO plugins (plugin_id, name, description, source, interval_seconds, enabled, keep_history, "
            "created_at, updated_at) VALUES (?, ?, '', NULL, 60, 1, 0, ?, ?)",
            (pid, pid, now * 1000, now * 1000),
        )
        base = (now - 40 * DAY - per * 10) * 1000
        conn.executemany(
            "INSERT INTO metrics (plugin_id, ts, cpu_percent, memory_mb, response_time_ms, error_rate, request_count) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((pid, base + i * 10_000, 10.0 + i % 7, 500.0, 20.0, 0.01, 100) for i in range(per)),
        )
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started


def push_loop(url: str, client_no: int, stop: threading.Event, latencies: list[float], period: float) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    n = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while not stop.is_set():
            t0 = time.time() - 300
            samples = [{"timestamp": t0 + (n * 10 + i) * 0.001, "cpu_percent": 5.0 + i} for i in range(10)]
            body = json.dumps({"samples": samples}).encode()
            started = time.perf_counter()
            r = client.post(f"/collect-metrics/live-{client_no}", content=body)
            latencies.append(time.perf_counter() - started)
            r.raise_for_status()
            n += 1
            stop.wait(period)


def measure(url: str, clients: int, until: threading.Event, period: float) -> list[float]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    threads = [threading.Thread(target=push_loop, args=(url, i, until, latencies[i], period)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(x for lat in latencies for x in lat)


def pct(values: list[float], q: float) -> float:
    return 1000 * values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--plugins", type=int, default=50)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--period", type=float, default=0.02, help="pause between one client's pushes (s)")
    ap.add_argument("--batch", type=int, default=1000, help="rows per retention transaction (the setting)")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    data = Path(tempfile.mkdtemp(prefix="retention-bench-"))
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": str(data),
        "AI_ANALYTICS_LOG_DIR": str(data / "logs"),
        "AI_ANALYTICS_LOG_LEVEL": "WARNING",
        "AI_ANALYTICS_SCHEDULER": "false",
        "AI_ANALYTICS_ADMIN_TOKEN": TOKEN,
        "AI_ANALYTICS_RETENTION_BATCH": str(args.batch),
    }
    # the schema, made by the service itself
    subprocess.run(
        [sys.executable, "-m", "plugin_ai_analytics", "status", "--local"], env=env, check=True, capture_output=True
    )
    took = seed(data / "analytics.db", args.rows, args.plugins)
    print(f"seeded {args.rows:,} expired rows over {args.plugins} plugins in {took:.0f} s")

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(data), "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/api/plugin-ai-analytics"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/system-status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        timer = threading.Event()
        threading.Timer(args.seconds, timer.set).start()
        baseline = measure(url, args.clients, timer, args.period)

        done = threading.Event()

        def wait_for_retention() -> None:
            (data / "run-retention").touch()
            while not (data / "retention-done.json").exists():
                time.sleep(0.1)
            done.set()

        threading.Thread(target=wait_for_retention).start()
        during = measure(url, args.clients, done, args.period)
        result = json.loads((data / "retention-done.json").read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"retention deleted {result['deleted']['metrics']:,} metric rows in {result['seconds']:.1f} s")
    for name, lat in (("without retention", baseline), ("during retention", during)):
        print(f"push {name:18s}: {len(lat):6d} pushes  p50 {pct(lat, 0.5):7.1f} ms  p99 {pct(lat, 0.99):7.1f} ms")
    print(f"p99 ratio (during / without): {pct(during, 0.99) / pct(baseline, 0.99):.2f}")


if __name__ == "__main__":
    main()
