"""Batch analysis: many plugins analysed as one background job, spread over worker processes so
every core works (the engines are CPU-bound Python; threads would share one core).

Each worker process opens its own service on the same database; one plugin's failure is
recorded in its result and the batch goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from ..errors import AnalyticsError
from ..logs import log_event

if TYPE_CHECKING:
    from ..config import Settings
    from .executor import Progress

__all__ = ["ANALYSES", "run_batch", "analyse_plugin"]

ANALYSES = ("train", "forecast", "detect", "suggest")

_worker_service: Any = None


def _init_worker(settings: Settings) -> None:
    global _worker_service
    from threadpoolctl import threadpool_limits

    from ..service import AnalyticsService

    # One process per core already: BLAS/OpenMP threads inside a worker would only contend for
    # the same cores (and OpenBLAS's idle threads spin after each large product).
    threadpool_limits(limits=1)
    # A worker needs the store and the engines, not a scheduler or a detection thread.
    _worker_service = AnalyticsService(settings.model_copy(update={"scheduler_enabled": False}))


def analyse_plugin(service: Any, plugin_id: str, analyses: tuple[str, ...], retrain: bool) -> dict[str, Any]:
    """Run the chosen analyses on one plugin; returns a compact result (never raises)."""
    started = time.perf_counter()
    result: dict[str, Any] = {"ok": True}
    try:
        if "train" in analyses:
            models = service.store.active_models(plugin_id)
            if retrain or not models:
                trained = service.forecasting.train_now(plugin_id, predict_after=False)
                result["trained"] = sorted(trained["trained"])
        if "forecast" in analyses:
            forecast = service.forecasting.predict(plugin_id, train_missing=False)
            result["forecast"] = {
                m: {"peak_24h": max(p["value"] for p in e["forecast"]), "model": e["model"]}
                for m, e in forecast["metrics"].items()
                if e.get("forecast")
            }
        if "detect" in analyses:
            status = service.detection.detect_now(plugin_id)
            result["anomaly_status"] = status["status"]
            result["open_anomalies"] = len(status["open_anomalies"])
        if "suggest" in analyses:
            suggestions = service.optimization_suggestions(plugin_id)["suggestions"]
            result["suggestions"] = [s["finding"] for s in suggestions]
    except AnalyticsError as exc:
        result = {"ok": False, "error": exc.message, "partial": result}
    except Exception as exc:  # one plugin's crash is its own result, not the batch's end
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "partial": result}
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _work(plugin_id: str, analyses: tuple[str, ...], retrain: bool) -> tuple[str, dict[str, Any], int]:
    import resource

    result = analyse_plugin(_worker_service, plugin_id, analyses, retrain)
    if "detect" in analyses:
        _worker_service.detection.flush_states()
        _worker_service.detection.forget(plugin_id)  # keep worker memory flat over thousands of plugins
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return plugin_id, result, peak_kib


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
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(settings,)
    ) as pool:
        queue = list(reversed(plugin_ids))
        running = set()
        # Keep a bounded number of tasks in flight so results stream back and memory stays flat.
        while queue or running:
            while queue and len(running) < workers * 2:
                running.add(pool.submit(_work, queue.pop(), analyses, retrain))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                plugin_id, result, peak = future.result()
                results[plugin_id] = result
                peak_worker_kib = max(peak_worker_kib, peak)
            progress(len(results) / max(1, len(plugin_ids)))
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
