"""Scale-out: batch analysis on Celery workers over PostgreSQL, with 1 and then 2 workers.

    python benchmarks/scale.py [--plugins 10000] [--days 14] [--workers 1,2] [--broker redis://127.0.0.1:6379/14]

Builds N synthetic plugins (benchmarks/batch.py's generator: daily cycles, leaks, latency knees,
incidents) with ``--days`` of 5-minute samples of the 7 metrics in a fresh PostgreSQL database
(ingestion rate printed), then for each worker count starts that many Celery workers
(``plugin-ai-analytics worker --concurrency 1``: one process each doing the work) and runs,
through the service's own ``batch_analysis`` (the Celery executor: one task per plugin):

- cold: nothing trained, no detector state: train + forecast + detect + suggest;
- warm: an hour of new samples later (each series continued, an incident planted in every 20th
  plugin): forecast + detect + suggest.

Between worker counts the analyses' tables are emptied and the new hour removed, so every count
starts from the same data. Printed: wall time, plugins per second, per worker, the 1 -> 2 scaling
ratio, and the time 100,000 plugins would take at the measured per-worker rate (arithmetic, not
a measurement). Everything (PostgreSQL, Redis, the workers, this script) shares the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import create_engine, text  # noqa: E402

from plugin_ai_analytics.config import Settings  # noqa: E402
from plugin_ai_analytics.security.crypto import new_key  # noqa: E402
from plugin_ai_analytics.service import AnalyticsService  # noqa: E402
from plugin_ai_analytics.worker import ping_workers  # noqa: E402

STEP_MS = 300_000
COLD = ("train", "forecast", "detect", "suggest")
WARM = ("forecast", "detect", "suggest")
# What an analysis writes; emptied so that each worker count starts cold from the same data.
ANALYSIS_TABLES = (
    "models",
    "predictions",
    "detector_states",
    "anomalies",
    "suggestions",
    "advice_runs",
    "interval_adaptation",
    "batch_parts",
    "jobs",
    "alerts",
    "alert_groups",
    "alert_outbox",
)


def _generator():
    spec = importlib.util.spec_from_file_location("bench_batch", ROOT / "benchmarks" / "batch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugins", type=int, default=10_000)
    ap.add_argument("--days", type=float, default=14)
    ap.add_argument("--workers", default="1,2", help="worker counts to run, in order")
    ap.add_argument("--broker", default="redis://127.0.0.1:6379/14", help="emptied first: use a database of its own")
    ap.add_argument(
        "--pg-admin",
        default=os.environ.get("AI_ANALYTICS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL URL allowed to create the benchmark's database",
    )
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    bench = _generator()

    import redis  # the broker is emptied so that no earlier run's tasks are in the queue

    redis.Redis.from_url(args.broker).flushdb()
    admin = create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
    name = f"pa_scale_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = args.pg_admin.rsplit("/", 1)[0] + f"/{name}"
    folder = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DATABASE_URL": database_url,
        "AI_ANALYTICS_EXECUTOR": "celery",
        "AI_ANALYTICS_BROKER_URL": args.broker,
        "AI_ANALYTICS_SECRET_KEY": new_key(),
        "AI_ANALYTICS_DATA_DIR": str(folder / "data"),
        "AI_ANALYTICS_LOG_LEVEL": "INFO",  # the workers say when they are ready
    }
    settings = Settings(
        database_url=database_url,
        executor="celery",
        broker_url=args.broker,
        data_dir=folder / "data",
        log_dir=folder / "logs",
        log_level="WARNING",
        secret_key=env["AI_ANALYTICS_SECRET_KEY"],
    )
    service = AnalyticsService(settings)
    try:
        run(args, bench, service, env, folder, counts)
    finally:
        service.close()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(args, bench, service: AnalyticsService, env: dict, folder: Path, counts: list[int]) -> None:
    store = service.store
    ids = [f"scale-{i:05d}" for i in range(args.plugins)]
    end_ms = int(time.time() // 300 * 300 * 1000) - 3_600_000  # the new hour ends about now
    samples = 0
    started = time.perf_counter()
    for i, plugin_id in enumerate(ids):
        rows = bench.plugin_rows(i, args.days, end_ms)
        for k in range(0, len(rows), 5000):
            store.metrics.insert(plugin_id, rows[k : k + 5000])
        samples += len(rows)
    ingest_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "machine": f"{os.cpu_count()} cores, shared with PostgreSQL, Redis, the workers and other work",
                "plugins": args.plugins,
                "days": args.days,
                "metrics": 7,
                "samples": samples,
                "ingest_s": round(ingest_s, 1),
                "ingest_samples_per_s": round(samples / ingest_s),
            }
        ),
        flush=True,
    )
    figures: dict[int, dict[str, dict]] = {}
    for count in counts:
        reset(store, end_ms)
        workers = [start_worker(env, folder, f"bench{count}-{i}") for i in range(count)]
        try:
            wait_for_workers(service.settings, count)
            wait_until_ready(folder, [f"bench{count}-{i}" for i in range(count)])
            figures[count] = {}
            for label, analyses in (("cold", COLD), ("warm", WARM)):
                if label == "warm":
                    for i, plugin_id in enumerate(ids):
                        rows = bench.continuation(i, args.days, end_ms, 12, incident=i % bench.PLANT_EVERY == 0)
                        store.metrics.insert(plugin_id, rows)
                figure = batch(service, ids, analyses, retrain=(label == "cold"))
                figure.update(workers=count, run=label)
                figures[count][label] = figure
                print(json.dumps(figure), flush=True)
        finally:
            for process in workers:
                stop_worker(process)
    summary(figures, counts, args.plugins)


def reset(store, end_ms: int) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(ANALYSIS_TABLES)}")
        conn.exec_driver_sql("DELETE FROM metrics WHERE ts > %s", (end_ms,))


def start_worker(env: dict, folder: Path, name: str) -> subprocess.Popen:
    log = open(folder / f"{name}.out", "wb")  # noqa: SIM115 - the process owns it until it ends
    return subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "worker", "--concurrency", "1", "--hostname", f"{name}@bench"],
        env={**env, "AI_ANALYTICS_LOG_DIR": str(folder / f"logs-{name}")},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_worker(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)  # warm shutdown: nothing is in flight by now
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for_workers(settings: Settings, count: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(ping_workers(settings, timeout=1.0)) >= count:
            return
    raise SystemExit(f"{count} workers did not answer within 120 s")


def wait_until_ready(folder: Path, names: list[str]) -> None:
    """Every worker's pool process has opened the service and loaded the engines (its log says
    so): the timings below measure analysis, not start-up."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        logs = [folder / f"logs-{name}" / "plugin_ai_analytics.log" for name in names]
        if all(p.exists() and "worker process ready" in p.read_text(errors="replace") for p in logs):
            return
        time.sleep(0.5)
    raise SystemExit("the workers did not get ready within 180 s")


def batch(service: AnalyticsService, ids: list[str], analyses: tuple[str, ...], *, retrain: bool) -> dict:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    job_id = service.batch_analysis(ids, list(analyses), retrain=retrain).job_id
    while True:
        job = service.store.jobs.get(job_id)
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    wall = time.perf_counter() - started
    result = job["result"] or {}
    return {
        "analyses": list(analyses),
        "status": job["status"],
        "wall_s": round(wall, 1),
        "plugins_per_s": round(len(ids) / wall, 3),
        "failed": len(result.get("failed", [])),
        "parts_by_worker": {k.split(":")[0]: v for k, v in (result.get("parts_by_worker") or {}).items()},
        # the machine is shared: how busy it was around the run (1-minute load average)
        "load_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def summary(figures: dict[int, dict[str, dict]], counts: list[int], plugins: int) -> None:
    out: dict[str, object] = {}
    for label in ("cold", "warm"):
        rates = {c: figures[c][label]["plugins_per_s"] for c in counts}
        per_worker = {c: round(rates[c] / c, 3) for c in counts}
        entry: dict[str, object] = {"plugins_per_s": rates, "per_worker_plugins_per_s": per_worker}
        if 1 in rates and 2 in rates:
            entry["scaling_1_to_2"] = round(rates[2] / rates[1], 2)
        # 100,000 plugins at the per-worker rate measured with the most workers: arithmetic only
        best = max(counts)
        rate = per_worker[best]
        entry["extrapolation_100k"] = {
            f"{w}_workers_h": round(100_000 / (rate * w) / 3600, 2) for w in (1, 2, 8, 32)
        } | {"from": f"{rate} plugins/s per worker measured with {best} workers x {plugins} plugins"}
        out[label] = entry
    print(json.dumps({"summary": out}), flush=True)


if __name__ == "__main__":
    main()
