"""Issue 16's database-fault runs at full length, on a real service process and PostgreSQL:

1. ``LOCK TABLE metrics IN ACCESS EXCLUSIVE MODE`` held 30 s while 50 clients push: ``/healthz``
   latency over the whole run (every 20 ms), how fast refused pushes are answered, that none
   hangs, and that every batch a client was told was stored is stored once (each client also
   re-sends one stored batch, as a client whose answer was lost).
2. The database refusing connections for 60 s (``ALLOW_CONNECTIONS false`` and its connections
   cut) while the instrumentation client (a sample every 0.5 s) and a PromQL-source collector
   (every 1 s, against a real Prometheus server) run: what pushes are answered, then samples
   sent, buffered, stored and stored twice.

    PYTHONPATH=src .venv/bin/python benchmarks/faults.py [--clients 50 --lock 30 --outage 60]

Needs PostgreSQL at 127.0.0.1:5432 (``AI_ANALYTICS_TEST_PG``) and the ``prometheus`` binary.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from tests.conftest import PG_ADMIN_URL, free_port  # noqa: E402
from tests.faults.scenarios import lock_scenario, refusal_scenario  # noqa: E402

JOB = "paa-faults"


@contextmanager
def database() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pa_faults_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def prometheus(workdir: Path) -> Iterator[str]:
    """A real Prometheus scraping a prometheus_client exporter every second."""
    from prometheus_client import CollectorRegistry, Counter
    from prometheus_client.exposition import start_http_server

    binary = shutil.which("prometheus")
    if binary is None:
        sys.exit("the prometheus binary is needed: apt-get install -y prometheus")
    registry = CollectorRegistry()
    Counter("http_requests", "requests", registry=registry).inc(10)
    exporter, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        f"scrape_configs:\n  - job_name: {JOB}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{exporter.server_port}']\n"
    )
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        query = {"query": f'sum(http_requests_total{{job="{JOB}"}})'}
        while True:
            try:
                if httpx.get(url + "/api/v1/query", params=query, timeout=2).json()["data"]["result"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            assert time.monotonic() < deadline, "Prometheus did not scrape the exporter"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
        exporter.shutdown()
        thread.join(5)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_lock(clients: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, database() as url:
        run = lock_scenario(url, Path(tmp), clients=clients, lock_seconds=seconds)
    health = run["healthz"]
    during = run["during_lock"]
    refused = [p["seconds"] for p in during if p["status"] == 503]
    other = [p for p in during if p["status"] != 503]
    by_kind = {
        "database": sum(1 for p in during if p["status"] == 503 and "database" in p["body"]),
        "in-flight cap": sum(1 for p in during if p["status"] == 503 and "in flight" in p["body"]),
    }
    acked, stored = run["acked"], run["stored"]
    print(f"== lock on metrics held {seconds:g} s, {clients} clients pushing 20-sample batches")
    print(
        f"/healthz: {len(health)} calls over the run, p50 {pct(health, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(health, 0.99) * 1000:.1f} ms, max {max(health) * 1000:.1f} ms"
    )
    print(
        f"pushes during the lock: {len(during)}, answered 503 {len(refused)} ({by_kind}), other {len(other)}; "
        f"503 latency p50 {pct(refused, 0.5):.2f} s, p99 {pct(refused, 0.99):.2f} s, max {max(refused):.2f} s; "
        f"hung clients {run['hung']}"
    )
    print(f"/healthz calls over 100 ms (seconds since the lock was taken, latency): {run['healthz_slow']}")
    resent = run["resent"].values()
    print(
        f"re-sent stored batches (answer lost): {len(resent)}, stored again {sum(r['stored'] for r in resent)}, "
        f"merged {sum(r['merged'] for r in resent)}"
    )
    differing = sum(acked[p] != stored.get(p) for p in acked)
    print(
        f"after the lock: batches acknowledged {sum(acked.values()) // 20}, samples acknowledged "
        f"{sum(acked.values())}, rows stored {sum(stored.values())}, plugins differing {differing}"
    )


def run_outage(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, database() as url, prometheus(Path(tmp)) as prom:
        run = refusal_scenario(url, Path(tmp), prom, JOB, outage_seconds=seconds, before_seconds=5)
    push, ready, status = run["answers"]
    client = run["client"]
    spooled = run["spooled"]
    print(f"== database refusing connections for {run['outage_seconds']:.1f} s")
    print(
        f"push during the outage: {push.status_code} {push.headers.get('content-type')} "
        f"Retry-After {push.headers.get('retry-after')} {push.text}"
    )
    print(f"/readyz: {ready.status_code} failed {ready.json()['failed']}")
    print(f"system-status: {status.status_code} database {status.json()['database']}")
    print(
        f"instrumentation client: buffered during the outage {run['client_during']['buffered']}, "
        f"sent {client['sent']}, dropped {client['dropped']}, rejected {client['rejected']}, rows stored "
        f"{run['client_rows']} (duplicates {run['client_rows'] - client['sent']}); host's slowest tracked call "
        f"{run['host_worst_call_s'] * 1000:.2f} ms"
    )
    kept = len(set(spooled) & set(run["promql_rows"]))
    print(
        f"PromQL collector: spooled on disk {len(spooled)}, of them stored {kept}, "
        f"rows in the outage window {len(run['promql_in_outage'])}, of those well inside it came through the "
        f"spool {len(set(run['promql_inside']) & set(spooled))}/{len(run['promql_inside'])}, largest gap between "
        f"samples {run['promql_largest_gap_s']:.2f} s, spool left {run['spool_left']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--lock", type=float, default=30.0)
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--only", choices=["lock", "outage"])
    args = parser.parse_args()
    if args.only != "outage":
        run_lock(args.clients, args.lock)
    if args.only != "lock":
        run_outage(args.outage)


if __name__ == "__main__":
    main()
