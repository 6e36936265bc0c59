"""Mixed load against a real server process: N concurrent clients for a duration, 80 % pushes of
1,000-sample batches across 200 plugins, 20 % reads (predict / analytics-summary / dashboard
overview / metrics-history, 5 % each).

    python benchmarks/load.py [--clients 100] [--duration 600] [--postgres URL] [--procs 1]

Starts `plugin-ai-analytics serve` (uvicorn, one process, authentication on) on a fresh SQLite
file, or on a fresh database created through the admin URL given with ``--postgres``. Before the
clock starts: every plugin gets 50 h of 5-minute history, and ``--trained`` of them (default 20)
are trained through POST train-models; predict is asked only of those, so every predict is
answered with a forecast (a predict of an untrained plugin is a documented 409, which would
measure nothing). Pushes go to all 200 plugins, each batch 1,000 samples 1 s apart, moving
forward in time per plugin from 28 days ago (so they never run into the future or into retention).

The clients are closed-loop (each sends its next request when the previous one answered, no
think time) on asyncio with httpx, in ``--procs`` separate processes; bodies are encoded before
they are timed. The generator measures its own event-loop lag so that a saturated generator
shows up in the figures instead of being read as server latency.

Prints: errors by status code, push p50/p99, per read kind p50/p99, throughput (requests/s and
samples/s), and the server's RSS after the first minute and at the end (sampled every 10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

TOKEN = "load-benchmark-admin-token-" + "0" * 32
HEADERS = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
PREFIX = "/api/plugin-ai-analytics"
PLUGINS = 200
BATCH = 1000
READS = ("predict", "summary", "overview", "history")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def plugin(i: int) -> str:
    return f"load-{i:03d}"


class Bodies:
    """1,000-sample push bodies, all seven metrics, samples 1 s apart. Encoding 1,000 samples per
    request in Python would make the generator the bottleneck: a few bodies are rendered once
    with fixed-width (10-digit) placeholder timestamps, and each request writes its own
    timestamps into a copy with one numpy assignment (~0.1 ms)."""

    def __init__(self, variants: int = 8, seed: int = 1) -> None:
        import numpy as np  # only the clients need it

        self._np = np
        rnd = random.Random(seed)
        self._templates = []
        offsets = None
        for _ in range(variants):
            base = rnd.uniform(5, 60)
            parts = []
            for i in range(BATCH):
                load = base + 10 * ((i % 600) / 600) + rnd.uniform(-1, 1)
                parts.append(
                    f'{{"timestamp":0000000000,"cpu_percent":{load:.2f},"memory_mb":{500 + load:.1f},'
                    f'"response_time_ms":{20 + load / 4:.2f},"response_time_p95_ms":{40 + load / 2:.2f},'
                    f'"error_rate":{0.001 * (i % 7):.4f},"request_count":{100 + i % 50},'
                    f'"active_users":{10 + i % 9}}}'
                )
            body = ('{"samples":[' + ",".join(parts) + "]}").encode()
            mark = b'"timestamp":'
            found, at = [], body.find(mark)
            while at >= 0:
                found.append(at + len(mark))
                at = body.find(mark, at + 1)
            self._templates.append((np.frombuffer(body, dtype=np.uint8), np.array(found)))
            offsets = found
        assert offsets is not None and len(offsets) == BATCH
        self._powers = 10 ** np.arange(9, -1, -1, dtype=np.int64)
        self._cols = np.arange(10)

    def make(self, start_s: int, variant: int) -> bytes:
        np = self._np
        template, offsets = self._templates[variant % len(self._templates)]
        body = template.copy()
        stamps = start_s + np.arange(BATCH, dtype=np.int64)
        body[offsets[:, None] + self._cols] = (stamps[:, None] // self._powers) % 10 + 48
        return body.tobytes()


def history_body(hours: float, step_s: int = 300) -> bytes:
    """``hours`` of 5-minute history ending now, with a daily cycle (enough to train: 48 h)."""
    import math  # only the set-up needs it

    n = int(hours * 3600 / step_s)
    end = int(time.time()) // step_s * step_s
    samples = []
    for i in range(n):
        ts = end - (n - 1 - i) * step_s
        day = math.sin(2 * math.pi * (ts % 86400) / 86400)
        samples.append(
            {
                "timestamp": ts,
                "cpu_percent": round(30 + 20 * day + (i % 5), 2),
                "memory_mb": round(800 + 0.05 * i, 1),
                "response_time_ms": round(40 + 10 * day, 2),
                "error_rate": 0.002,
                "request_count": int(300 + 200 * day),
                "active_users": int(30 + 20 * day),
            }
        )
    return json.dumps({"samples": samples}).encode()


# -- the server ----------------------------------------------------------------------------------


def start_server(tmp: str, postgres: str | None) -> tuple[subprocess.Popen, str, str | None]:
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": f"{tmp}/data",
        "AI_ANALYTICS_LOG_DIR": f"{tmp}/logs",
        "AI_ANALYTICS_LOG_LEVEL": "WARNING",
        "AI_ANALYTICS_ADMIN_TOKEN": TOKEN,
    }
    dbname = None
    if postgres:
        from sqlalchemy import create_engine, text  # only the PostgreSQL run needs it

        dbname = f"pa_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
        admin.dispose()
        env["DATABASE_URL"] = postgres.rsplit("/", 1)[0] + f"/{dbname}"
    port = free_port()
    log = open(f"{tmp}/server.out", "wb")  # noqa: SIM115 - kept open for the server's life
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(url + PREFIX + "/system-status", timeout=2, headers=HEADERS).raise_for_status()
            return proc, url, dbname
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server did not start; see {tmp}/server.out") from None
            time.sleep(0.3)


def prepare(url: str, trained: int) -> list[str]:
    """50 h of history for every plugin; train the first ``trained``; returns those plugin ids."""
    body = history_body(50)
    with httpx.Client(base_url=url + PREFIX, headers=HEADERS, timeout=120) as client:
        for i in range(PLUGINS):
            client.post(f"/collect-metrics/{plugin(i)}", content=body).raise_for_status()
        jobs = [client.post(f"/train-models/{plugin(i)}").json()["job_id"] for i in range(trained)]
        deadline = time.monotonic() + 900
        while jobs and time.monotonic() < deadline:
            jobs = [j for j in jobs if client.get(f"/jobs/{j}").json()["status"] in ("queued", "running")]
            time.sleep(1)
        ready = [plugin(i) for i in range(trained) if client.get(f"/predict/{plugin(i)}").status_code == 200]
    return ready


# -- the clients (in their own processes) ---------------------------------------------------------


def client_entry(
    url: str, clients: int, duration: float, trained: list[str], seed: int, part: tuple[int, int], rate: float, out
):
    """One client process: runs its clients and sends its figures back through ``out``."""
    out.send(asyncio.run(run_clients(url, clients, duration, trained, seed, part, rate)))


async def run_clients(
    url: str, clients: int, duration: float, trained: list[str], seed: int, part: tuple[int, int], rate: float
) -> dict[str, object]:
    # Per plugin the next free timestamp (1 s apart, from 28 days ago). Process k of n pushes only
    # plugins k, k + n, …: two processes never write the same (plugin, time).
    first, procs = part
    cursor = {plugin(i): int(time.time()) - 28 * 86400 for i in range(first, PLUGINS, procs)}
    bodies = Bodies(seed=seed)
    lat: dict[str, list[float]] = {"push": [], **{k: [] for k in READS}}
    errors: dict[str, int] = {}
    lag: list[float] = []
    pushed = [0]
    end = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url + PREFIX, headers=HEADERS, timeout=60, limits=limits) as client:

        async def one(n: int) -> None:
            r = random.Random(seed * 1000 + n)
            # paced (--rate): each client sends every ``interval`` s, starting at a random phase;
            # one that falls behind sends at once but never bursts to catch up
            interval = clients / rate if rate else 0.0
            due = time.monotonic() + r.uniform(0, interval)
            while time.monotonic() < end:
                if interval:
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    due = max(due + interval, time.monotonic())
                pick = r.random()
                if pick < 0.8:
                    p = plugin(r.randrange(first, PLUGINS, procs))
                    start = cursor[p]
                    cursor[p] += BATCH
                    body = bodies.make(start, r.randrange(64))
                    kind, method, path = "push", "POST", f"/collect-metrics/{p}"
                else:
                    kind = READS[min(3, int((pick - 0.8) / 0.05))]
                    p = plugin(r.randrange(PLUGINS))
                    body = None
                    method = "GET"
                    if kind == "predict":
                        path = f"/predict/{r.choice(trained)}" if trained else f"/predict/{p}"
                    elif kind == "summary":
                        path = f"/analytics-summary/{p}"
                    elif kind == "overview":
                        path = "/dashboard/overview"
                    else:
                        path = f"/metrics-history/{p}?resolution=1h&limit=200"
                t0 = time.perf_counter()
                try:
                    resp = await client.request(method, path, content=body)
                    code = str(resp.status_code)
                    await resp.aclose()
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                dt = time.perf_counter() - t0
                if code != "200":
                    errors[f"{kind} {code}"] = errors.get(f"{kind} {code}", 0) + 1
                else:
                    lat[kind].append(dt)
                    if kind == "push":
                        pushed[0] += BATCH

        async def watch_lag() -> None:
            while time.monotonic() < end:
                t0 = time.perf_counter()
                await asyncio.sleep(0.1)
                lag.append(time.perf_counter() - t0 - 0.1)

        await asyncio.gather(watch_lag(), *(one(n) for n in range(clients)))
    return {"latency": lat, "errors": errors, "lag": lag, "samples": pushed[0]}


# -- figures --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--duration", type=float, default=600, help="seconds (default 10 minutes)")
    ap.add_argument("--postgres", default=None, help="admin URL; a fresh database is created and dropped")
    ap.add_argument("--trained", type=int, default=20)
    ap.add_argument("--procs", type=int, default=1, help="client processes")
    ap.add_argument(
        "--rate", type=float, default=0.0, help="requests/s over all clients (default 0: closed loop, no think time)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the data folder")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="load-bench-")
    backend = "postgresql" if args.postgres else "sqlite"
    print(
        f"machine: {os.cpu_count()} cores; {backend}; {args.clients} clients x {args.duration:g} s, "
        f"{PLUGINS} plugins, {args.trained} trained; client processes {args.procs}; "
        f"{f'paced at {args.rate:g} requests/s' if args.rate else 'closed loop'}; data {tmp}",
        flush=True,
    )
    proc, url, dbname = start_server(tmp, args.postgres)
    try:
        t0 = time.monotonic()
        trained = prepare(url, args.trained)
        print(f"prepared in {time.monotonic() - t0:.0f} s: {len(trained)} plugins trained", flush=True)
        ctx = multiprocessing.get_context("spawn")
        pipes, workers = [], []
        per = [args.clients // args.procs + (1 if k < args.clients % args.procs else 0) for k in range(args.procs)]
        for k in range(args.procs):
            parent, child = ctx.Pipe(duplex=False)
            w = ctx.Process(
                target=client_entry,
                args=(
                    url,
                    per[k],
                    args.duration,
                    trained,
                    17 + k,
                    (k, args.procs),
                    args.rate * per[k] / args.clients,
                    child,
                ),
            )
            w.start()
            pipes.append(parent)
            workers.append(w)
        started = time.monotonic()
        rss: list[tuple[float, float]] = []
        while any(w.is_alive() for w in workers) and not all(p.poll() for p in pipes):
            time.sleep(1)
            elapsed = time.monotonic() - started
            if not rss or elapsed - rss[-1][0] >= 10:
                rss.append((elapsed, rss_mb(proc.pid)))
        results = [p.recv() for p in pipes]
        for w in workers:
            w.join(timeout=30)
        wall = time.monotonic() - started
        rss.append((wall, rss_mb(proc.pid)))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if dbname:
            from sqlalchemy import create_engine, text  # only the PostgreSQL run needs it

            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
            admin.dispose()
    lat: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    lag: list[float] = []
    samples = 0
    for res in results:
        for kind, values in res["latency"].items():
            lat.setdefault(kind, []).extend(values)
        for key, n in res["errors"].items():
            errors[key] = errors.get(key, 0) + n
        lag.extend(res["lag"])
        samples += res["samples"]
    requests = sum(len(v) for v in lat.values()) + sum(errors.values())
    after_minute = next((mb for at, mb in rss if at >= 60), rss[-1][1])
    figures = {
        "backend": backend,
        "clients": args.clients,
        "rate": args.rate or "closed loop",
        "seconds": round(wall, 1),
        "requests": requests,
        "errors": errors,
        "requests_per_s": round(requests / wall, 1),
        "samples_per_s": round(samples / wall),
        "push": {"n": len(lat["push"]), "p50_ms": pct(lat["push"], 0.5), "p99_ms": pct(lat["push"], 0.99)},
        "reads": {k: {"n": len(lat[k]), "p50_ms": pct(lat[k], 0.5), "p99_ms": pct(lat[k], 0.99)} for k in READS},
        "read_all": {
            "p50_ms": pct([v for k in READS for v in lat[k]], 0.5),
            "p99_ms": pct([v for k in READS for v in lat[k]], 0.99),
        },
        "rss_mb_after_1_min": round(after_minute, 1),
        "rss_mb_end": round(rss[-1][1], 1),
        "rss_change_percent": round(100 * (rss[-1][1] - after_minute) / after_minute, 1),
        "rss_mb_every_10_s": [round(mb) for _, mb in rss],
        "generator_loop_lag_p99_ms": pct(lag, 0.99),
    }
    print(json.dumps(figures, indent=1))
    if not args.keep:
        import shutil  # only to clean up

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
