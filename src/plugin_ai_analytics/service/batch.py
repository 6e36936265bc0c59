"""Batch analysis: many plugins analysed as one background job, spread over worker processes so
every core works (the engines are CPU-bound Python; threads would share one core).

A worker opens only what analysing needs (``Analysts``: the store and the forecasting, detection
and advice parts), never a whole service with its scheduler and pools. One plugin's failure is
recorded in its result and the batch goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import AnalyticsError
from ..jobs.executor import Progress
from ..logs import configure_logging, log_event
from ..store import Store
from .advice import Advice
from .alert_changes import listen_for_alerts
from .detection import Detection
from .forecasts import Forecasts
from .history import History, frame_of

__all__ = ["BATCH_ANALYSES", "Analysts", "analyse_plugin", "run_batch", "shared_detection"]

# What a batch can run on each plugin, in this order.
BATCH_ANALYSES = ("train", "forecast", "detect", "suggest")
# SQLite's WAL auto-checkpoint in a batch worker (pages of 4 KiB, 64 MiB; SQLite's default is 1,000):
# a warm plugin rewrites ~1,700 prediction rows, so at the default every few plugins' commit copies
# the WAL into the database file and syncs it (~12 ms per plugin on a 1.6 GB database); far apart,
# pages every plugin touches (the tables' and indexes' ends) are copied once per checkpoint and
# the sync is rare. The service's own writer keeps the default: its pushes want short commits.
BULK_CHECKPOINT_PAGES = 16_000


@dataclass
class Analysts:
    """The parts that analyse one plugin: what a batch worker needs, and nothing more."""

    store: Store
    history: History
    forecasts: Forecasts
    detection: Detection
    advice: Advice

    @classmethod
    def open(cls, settings: Settings, store: Store) -> Analysts:
        history = History(store.metrics, store.plugins)
        forecasts = Forecasts(
            settings=settings,
            history=history,
            metrics=store.metrics,
            models=store.models,
            predictions=store.predictions,
            plugins=store.plugins,
            jobs=None,
            adaptation=store.interval_adaptation,
        )
        detection = Detection(
            metrics=store.metrics,
            anomalies=store.anomalies,
            states=store.detector_states,
            plugins=store.plugins,
            sensitivity=settings.anomaly_detection_sensitivity,
            floors=settings.severity_floors,
            memory_floor_fraction=settings.severity_floor_memory_fraction,
            shared_lock=shared_detection(settings, store),
        )
        advice = Advice(history=history, suggestions=store.suggestions, plugins=store.plugins)
        listen_for_alerts(store)  # the events this worker stores raise their alerts in the same transaction
        return cls(store=store, history=history, forecasts=forecasts, detection=detection, advice=advice)


def shared_detection(settings: Settings, store: Store) -> Callable[[str], AbstractContextManager[None]] | None:
    """Detection's lock across processes when several score the same plugins (AI_ANALYTICS_REPLICATED)."""
    if not settings.effective_replicated:
        return None
    return lambda plugin_id: store.plugin_lock("detect", plugin_id)


def analyse_plugin(analysts: Analysts, plugin_id: str, analyses: Sequence[str], retrain: bool) -> dict[str, Any]:
    """Run the chosen analyses on one plugin; returns a compact result (never raises)."""
    started = time.perf_counter()
    result: dict[str, Any] = {"ok": True}
    try:
        rows: list[tuple] | None = None
        frame = None
        if set(BATCH_ANALYSES) & set(analyses):
            # One read of the plugin's window for every analysis of this pass.
            rows = analysts.history.window(plugin_id)
            frame = frame_of(rows)
        if "train" in analyses:
            if retrain or not analysts.store.models.active(plugin_id):
                trained = analysts.forecasts.train_now(plugin_id, predict_after=False, frame=frame)
                result["trained"] = sorted(trained["trained"])
        if "forecast" in analyses:
            result["forecast"] = analysts.forecasts.refresh(plugin_id, frame)
        if "detect" in analyses:
            status = analysts.detection.detect_now(plugin_id, rows)
            result["anomaly_status"] = status.status
            result["open_anomalies"] = len(status.open_anomalies)
        if "suggest" in analyses:
            result["suggestions"] = [s.finding for s in analysts.advice.suggest(plugin_id, frame).suggestions]
    except AnalyticsError as exc:
        result = {"ok": False, "error": exc.message, "partial": result}
    except Exception as exc:  # one plugin's crash is its own result, not the batch's end
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "partial": result}
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


_worker: Analysts | None = None


def _init_worker(settings: Settings) -> None:
    global _worker
    from threadpoolctl import threadpool_limits  # start-up cost: only batch workers need it

    # One process per core already: BLAS/OpenMP threads inside a worker would only contend for
    # the same cores (and OpenBLAS's idle threads spin after each large product).
    threadpool_limits(limits=1)
    configure_logging(settings.log_dir, settings.log_level)
    # The parent has migrated the database already; workers only open it.
    store = Store(
        settings.effective_database_url,
        run_migrations=False,
        limits=settings.database_limits,
        checkpoint_pages=BULK_CHECKPOINT_PAGES,
    )
    _worker = Analysts.open(settings, store)


def _work(plugin_id: str, analyses: tuple[str, ...], retrain: bool) -> tuple[str, dict[str, Any], int]:
    assert _worker is not None, "worker not initialised"
    result = analyse_plugin(_worker, plugin_id, analyses, retrain)
    if "detect" in analyses:
        _worker.detection.flush_states(force=False)  # a state not due is replayed next time
        _worker.detection.forget(plugin_id)  # keep worker memory flat over thousands of plugins
    return plugin_id, result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_batch(
    settings: Settings,
    plugin_ids: list[str],
    analyses: tuple[str, ...],
    progress: Progress,
    *,
    workers: int | None = None,
    retrain: bool = False,
) -> dict[str, Any]:
    """Analyse ``plugin_ids`` on ``workers`` processes; returns per-plugin results and totals."""
    workers = workers or settings.effective_cpu_cores
    started = time.perf_counter()
    results: dict[str, Any] = {}
    peak_worker_kib = 0
    context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(settings,))
    try:
        queue = list(reversed(plugin_ids))
        running: set[Future] = set()
        # Keep a bounded number of tasks in flight so results stream back and memory stays flat.
        while queue or running:
            while queue and len(running) < workers * 2:
                running.add(pool.submit(_work, queue.pop(), analyses, retrain))
            # woken at least twice a second, so a shutdown is seen even while one plugin takes long
            done, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                plugin_id, result, peak = future.result()
                results[plugin_id] = result
                peak_worker_kib = max(peak_worker_kib, peak)
            # Raises JobCancelled once the service is shutting down (written only when it moved 1 %).
            progress(len(results) / max(1, len(plugin_ids)))
    except BaseException:
        # Stopped (shutdown) or failed: the workers' current plugins are abandoned, not waited for.
        # The pool has no public way to stop a running task; its processes are terminated (the
        # private map is read before shutdown clears it).
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    pool.shutdown(wait=True)
    failed = sorted(p for p, r in results.items() if not r["ok"])
    elapsed = time.perf_counter() - started
    log_event(
        logging.INFO,
        "batch_analysis",
        "batch finished",
        plugins=len(plugin_ids),
        failed=len(failed),
        seconds=round(elapsed, 1),
    )
    return {
        "plugins": len(plugin_ids),
        "succeeded": len(plugin_ids) - len(failed),
        "failed": failed,
        "analyses": list(analyses),
        "workers": workers,
        "seconds": round(elapsed, 2),
        "peak_worker_rss_mb": round(peak_worker_kib / 1024, 1),
        "pid": os.getpid(),
        "results": results,
    }
