"""Crash safety: `kill -9` of the server during concurrent ingestion, many times, on SQLite and on
PostgreSQL; every acknowledged sample must be stored, no batch partly stored.

    python benchmarks/kill9.py [--kills 20] [--writers 8] [--backends sqlite,postgres]

For each backend: a fresh database; then ``--kills`` cycles of: start `plugin-ai-analytics serve`
(one process, authentication on), ``--writers`` threads each pushing 1,000-sample batches to its
own plugin (samples 1 s apart, each batch a range of its own) and recording which batches were
acknowledged (200), SIGKILL of the server at a random 0.5–3 s after every writer's first answer,
then a check straight in the database with the server down: every batch is either wholly stored or wholly absent, every
acknowledged batch is wholly stored, and on SQLite ``PRAGMA integrity_check`` says ok. The next
cycle restarts the server on the same database (so recovery of the WAL is exercised too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import httpx
from sqlalchemy import create_engine, text

TOKEN = "kill9-benchmark-admin-token-" + "0" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
PREFIX = "/api/plugin-ai-analytics"
BATCH = 1000
PG_ADMIN = os.environ.get("AI_ANALYTICS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(start_s: int) -> bytes:
    samples = [
        {"timestamp": start_s + i, "cpu_percent": float(i % 90), "memory_mb": 500.0 + i % 50, "request_count": i}
        for i in range(BATCH)
    ]
    return json.dumps({"samples": samples}).encode()


class Writer(threading.Thread):
    """Pushes consecutive batches to its plugin until the server is gone; remembers what was
    sent and what was acknowledged (batch k covers seconds [base + k·BATCH, base + (k+1)·BATCH))."""

    def __init__(self, url: str, plugin: str, base: int, first_batch: int) -> None:
        super().__init__(daemon=True)
        self.url, self.plugin, self.base = url, plugin, base
        self.next = first_batch
        self.sent: list[int] = []
        self.acked: list[int] = []
        self.refused: dict[str, int] = {}

    def run(self) -> None:
        with httpx.Client(timeout=30, headers=AUTH) as client:
            while True:
                k = self.next
                self.next += 1
                self.sent.append(k)
                try:
                    r = client.post(
                        f"{self.url}{PREFIX}/collect-metrics/{self.plugin}", content=body(self.base + k * BATCH)
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200 and r.json()["stored"] + r.json()["merged"] == BATCH:
                    self.acked.append(k)
                else:
                    self.refused[str(r.status_code)] = self.refused.get(str(r.status_code), 0) + 1


def start(env: dict[str, str], cwd: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + PREFIX + "/system-status", timeout=2, headers=AUTH).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start") from None
            time.sleep(0.1)


def check(db_url: str, base: int, writers: list[Writer], sqlite: bool) -> dict[str, int | str]:
    """Per batch, how many of its samples are stored: each must be 0 or BATCH, acknowledged ones BATCH."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = {
                (pid, int(k)): int(n)
                for pid, k, n in conn.execute(
                    text(
                        "SELECT plugin_id, (ts / 1000 - :base) / :size AS k, count(*) FROM metrics "
                        "WHERE plugin_id LIKE 'k9-%' GROUP BY plugin_id, (ts / 1000 - :base) / :size"
                    ),
                    {"base": base, "size": BATCH},
                )
            }
            integrity = conn.execute(text("PRAGMA integrity_check")).scalar_one() if sqlite else "n/a"
    finally:
        engine.dispose()
    acked = sum(len(w.acked) for w in writers)
    lost = sum(BATCH - stored.get((w.plugin, k), 0) for w in writers for k in w.acked)
    partial = sum(1 for n in stored.values() if n != BATCH)
    unacked_stored = sum(1 for w in writers for k in set(w.sent) - set(w.acked) if stored.get((w.plugin, k)) == BATCH)
    return {
        "acked_batches": acked,
        "lost_samples": lost,
        "partial_batches": partial,
        "unacknowledged_but_stored": unacked_stored,
        "integrity": integrity,
    }


def run_backend(name: str, kills: int, writers_n: int, rng: random.Random) -> dict:
    tmp = tempfile.mkdtemp(prefix="kill9-")
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": f"{tmp}/data",
        "AI_ANALYTICS_LOG_DIR": f"{tmp}/logs",
        "AI_ANALYTICS_LOG_LEVEL": "WARNING",
        "AI_ANALYTICS_ADMIN_TOKEN": TOKEN,
    }
    dbname = None
    if name == "postgres":
        dbname = f"pa_kill9_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
        env["DATABASE_URL"] = db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    else:
        db_url = f"sqlite:///{tmp}/data/analytics.db"
    base = int(time.time()) - 20 * 86400
    next_batch = [0] * writers_n
    all_writers: list[Writer] = []
    cycles = []
    try:
        for cycle in range(kills):
            proc, url = start(env, tmp)
            writers = [Writer(url, f"k9-w{w}", base, next_batch[w]) for w in range(writers_n)]
            for w in writers:
                w.start()
            # mid-stream: once every writer has been answered (the first push of a fresh process
            # loads the detectors), then at a random moment
            deadline = time.monotonic() + 30
            while not all(w.acked or w.refused for w in writers) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.5, 3.0))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            for w in writers:
                w.join(timeout=60)
            for i, w in enumerate(writers):
                next_batch[i] = w.next
            all_writers.extend(writers)
            result = check(db_url, base, all_writers, name == "sqlite")
            refused: dict[str, int] = {}
            for w in writers:
                for code, n in w.refused.items():
                    refused[code] = refused.get(code, 0) + n
            cycles.append({"cycle": cycle + 1, "acked_this_cycle": sum(len(w.acked) for w in writers), **result})
            print(json.dumps({"backend": name, **cycles[-1], "refused": refused}), flush=True)
    finally:
        if dbname:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
            admin.dispose()
    last = cycles[-1]
    return {
        "backend": name,
        "kills": kills,
        "writers": writers_n,
        "acknowledged_samples": last["acked_batches"] * BATCH,
        "lost_samples": max(c["lost_samples"] for c in cycles),
        "partial_batches": max(c["partial_batches"] for c in cycles),
        "integrity_ok_every_time": all(c["integrity"] in ("ok", "n/a") for c in cycles),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--seed", type=int, default=9)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print(
        f"machine: {os.cpu_count()} cores; {args.kills} x kill -9 per backend, "
        f"{args.writers} writers, {BATCH}-sample batches"
    )
    summary = [run_backend(name, args.kills, args.writers, rng) for name in args.backends.split(",")]
    for s in summary:
        print(json.dumps(s))
    if any(s["lost_samples"] or s["partial_batches"] or not s["integrity_ok_every_time"] for s in summary):
        sys.exit(1)


if __name__ == "__main__":
    main()
