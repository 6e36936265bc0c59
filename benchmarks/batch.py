"""Batch analysis of many plugins: wall time and memory, cold (every model trained) and warm
(models already trained: forecast + detect + suggest, after an hour of new samples arrived).

    python benchmarks/batch.py [--plugins 1000] [--days 14] [--workers 2] [--database-url URL]

Builds N synthetic plugins with 14 days of 5-minute samples of all six metrics (daily load
cycles of different shapes and sizes, noise, some memory leaks, some latency knees, some
incidents), stores them in a fresh SQLite database (or --database-url), then runs the same
`run_batch` the batch-analysis endpoint runs, twice. Peak memory is the largest resident set
of any worker process plus the parent, divided by the plugin count.

Building 1,000 plugins takes minutes; build once and start every run from a copy:

    python benchmarks/batch.py --plugins 1000 --data-dir /tmp/batch-1000 --build-only
    python benchmarks/batch.py --plugins 1000 --source-data /tmp/batch-1000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from plugin_ai_analytics.config import Settings  # noqa: E402
from plugin_ai_analytics.store import Store  # noqa: E402

STEP_MS = 300_000


# Samples generated beyond the stored history: the hour the warm run sees continues each series
# from the same random stream, instead of a fresh series that jumps (an incident storm).
FUTURE = 288
# Every PLANT_EVERY-th plugin gets an incident in the new hour, and only those should alert.
PLANT_EVERY = 20


def plugin_rows(seed: int, days: float, end_ms: int) -> list[tuple]:
    """``days`` of 5-minute samples ending at ``end_ms``."""
    return plugin_series(seed, days, end_ms)[: round(days * 288)]


def continuation(seed: int, days: float, end_ms: int, k: int, *, incident: bool) -> list[tuple]:
    """The ``k`` samples after the history ``plugin_rows(seed, days, end_ms)``, the same series going
    on; with ``incident``, errors and latency jump over them (a planted incident)."""
    n = round(days * 288)
    rows = plugin_series(seed, days, end_ms)[n : n + k]
    if not incident:
        return rows
    return [(r[0], r[1], r[2], r[3] * 4, r[4] * 4, min(1.0, r[5] + 0.25), r[6], r[7]) for r in rows]


def plugin_series(seed: int, days: float, end_ms: int) -> list[tuple]:
    """``days`` of samples ending at ``end_ms`` and ``FUTURE`` more after it, one random stream."""
    rng = np.random.default_rng(seed)
    history = round(days * 288)
    n = history + FUTURE
    t = np.arange(n)
    phase = rng.uniform(0, 2 * np.pi)
    base = rng.uniform(50, 800)
    amplitude = rng.uniform(0.1, 0.8) * base
    weekly = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * t / (7 * 288))
    load = np.clip(
        (base + amplitude * np.sin(2 * np.pi * t / 288 + phase)) * weekly + rng.normal(0, 0.05 * base, n), 0, None
    )
    knee = base + amplitude * rng.uniform(0.3, 1.5)
    latency = 20 + 0.02 * load + np.where(load > knee, 0.5 * (load - knee), 0) + rng.normal(0, 1, n)
    cpu = np.clip(5 + 40 * load / (base + amplitude) + rng.normal(0, 2, n), 0, 200)
    leak = rng.uniform(0.1, 1.0) if rng.random() < 0.2 else 0.0
    memory = rng.uniform(200, 2000) + leak * t / 12 + 20 * np.sin(2 * np.pi * t / 36) + rng.normal(0, 5, n)
    errors = np.clip(0.001 + 0.00002 * np.maximum(0, load - knee) + rng.normal(0, 0.0005, n), 0, 1)
    if rng.random() < 0.3:  # an incident in the history: errors and latency jump for an hour
        at = rng.integers(history // 2, history - 20)
        errors[at : at + 12] += 0.2
        latency[at : at + 12] *= 4
    users = np.maximum(0, load / 10 + rng.normal(0, 1, n)).round()
    start = end_ms - (history - 1) * STEP_MS
    return [
        (
            start + i * STEP_MS,
            float(cpu[i]),
            float(memory[i]),
            float(latency[i]),
            float(latency[i] * 2.5),
            float(errors[i]),
            int(load[i]),
            int(users[i]),
        )
        for i in range(n)
    ]


def opened_since(store: Store, ids: list[str], since_ms: int) -> set[int]:
    """Indexes of the plugins with an anomaly event that started at or after ``since_ms``."""
    return {i for i, pid in enumerate(ids) if store.anomalies.find(pid, start_ms=since_ms, limit=1)}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugins", type=int, default=1000)
    ap.add_argument("--days", type=float, default=14)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--skip-cold", action="store_true", help="reuse --data-dir's trained models")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument(
        "--new-samples",
        type=int,
        default=12,
        help="samples per plugin that arrive between the cold and the warm run (default: an hour)",
    )
    ap.add_argument("--build-only", action="store_true", help="store the plugins' data in --data-dir and stop")
    ap.add_argument(
        "--source-data",
        default=None,
        help="start from a copy of the SQLite database another run built with --build-only (skips the build)",
    )
    args = ap.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="batch-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if args.source_data:
        # A byte copy of untouched data: every cold run starts from the same state, without
        # spending minutes generating it again.
        shutil.copyfile(Path(args.source_data) / "analytics.db", data_dir / "analytics.db")
    settings = Settings(
        data_dir=data_dir,
        log_dir=data_dir / "logs",
        database_url=args.database_url,
        scheduler_enabled=False,
        log_level="WARNING",
    )
    store = Store(settings.effective_database_url)
    ids = [f"bench-{i:04d}" for i in range(args.plugins)]
    end_ms = int(time.time() // 300 * 300 * 1000)
    t0 = time.perf_counter()
    if not (args.skip_cold or args.source_data):
        for i, pid in enumerate(ids):
            rows = plugin_rows(i, args.days, end_ms)
            for k in range(0, len(rows), 5000):
                store.metrics.insert(pid, rows[k : k + 5000])
    load_s = time.perf_counter() - t0
    print(
        f"machine: {os.cpu_count()} cores; {args.plugins} plugins x {args.days:g} days of 5-min data "
        f"({int(args.days * 288)} samples each); data stored in {load_s:.1f} s; workers={args.workers}"
    )

    if args.build_only:
        print(f"built in {data_dir}; run with --source-data {data_dir}")
        return

    from plugin_ai_analytics.service.batch import run_batch

    def progress(_fraction: float) -> None:
        pass

    figures = {}
    runs = [("warm", ("forecast", "detect", "suggest"))]
    if not args.skip_cold:
        runs.insert(0, ("cold", ("train", "forecast", "detect", "suggest")))
    for name, analyses in runs:
        if name == "warm" and args.new_samples:
            # New data arrives before the warm run, as it would between two scheduled batches:
            # the warm run then scores, forecasts and advises on samples it has not seen,
            # rather than replaying answers it already has.
            k = args.new_samples
            new_from = None
            for i, pid in enumerate(ids):
                last = store.metrics.extent(pid)["last_ts"]
                new_from = last + STEP_MS
                rows = continuation(i, args.days, last, k, incident=i % PLANT_EVERY == 0)
                store.metrics.insert(pid, rows)
        result = run_batch(settings, ids, analyses, progress, workers=args.workers, retrain=(name == "cold"))
        peak_total = result["peak_worker_rss_mb"] * args.workers + rss_mb()
        figures[name] = {
            "analyses": list(analyses),
            "wall_s": result["seconds"],
            "per_plugin_s": round(result["seconds"] / args.plugins, 3),
            "failed": len(result["failed"]),
            "failures": {p: result["results"][p]["error"] for p in result["failed"][:5]},
            "peak_worker_rss_mb": result["peak_worker_rss_mb"],
            "peak_total_rss_mb_upper_bound": round(peak_total, 1),
            "rss_mb_per_plugin": round(peak_total / args.plugins, 3),
        }
        if name == "warm" and args.new_samples:
            opened = opened_since(store, ids, new_from)
            figures[name]["planted_incidents"] = len(range(0, len(ids), PLANT_EVERY))
            figures[name]["plugins_with_new_events"] = len(opened)
            figures[name]["plugins_with_new_events_unplanted"] = sum(1 for i in opened if i % PLANT_EVERY)
        print(json.dumps({name: figures[name]}))
    store.close()


if __name__ == "__main__":
    main()
