"""The named work an executor runs (``jobs/base.py``), and the periodic work, in one table each.

Both executors run exactly these functions: in this process (``InProcessExecutor``) or in a
Celery worker (``worker.py``), which opens a service of its own and calls the same entry. Every
task may be delivered twice (a worker killed before acknowledging it) and is idempotent: training
and forecasting replace what they stored, detection stores events by id and scores only samples
newer than the saved detector state, advice updates a finding in place, retention and backups
are re-runnable; a batch part records each committed step under its job id (``BatchParts``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import ValidationError
from ..jobs.base import TaskWork
from ..logs import log_event
from ..times import now_ms
from .batch import BATCH_ANALYSES, run_batch

__all__ = ["PERIODIC", "Periodic", "task_table", "periodic_work", "analyse_part", "worker_name"]

Progress = Callable[[float], None]


def worker_name(host: str | None = None) -> str:
    """Which process did a piece of work (a part's row, the logs): the worker's name (Celery's
    hostname, unique per deployment) or this machine's, and the process id."""
    return f"{host or socket.gethostname()}:{os.getpid()}"


def task_table(service: Any) -> dict[str, TaskWork]:
    """Every kind of job, bound to ``service`` (an ``AnalyticsService``)."""

    def train(plugin_id: str | None, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return service.forecasts.run_training(_plugin(plugin_id), progress)

    def predict(plugin_id: str | None, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        forecast = service.forecasts.predict(_plugin(plugin_id), train_missing=False)
        return {"plugin_id": plugin_id, "made_at": forecast.made_at, "metrics": sorted(forecast.metrics)}

    def detect_backlog(plugin_id: str | None, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return {"plugin_id": plugin_id, "scored": len(service.detection.process(_plugin(plugin_id)))}

    def advise(plugin_id: str | None, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        report = service.advice.suggest(_plugin(plugin_id))
        return {"plugin_id": plugin_id, "suggestions": [s.finding for s in report.suggestions]}

    def batch(plugin_id: str | None, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return run_batch(
            service.settings,
            list(params["plugin_ids"]),
            tuple(params["analyses"]),
            progress,
            workers=params.get("workers"),
            retrain=bool(params.get("retrain")),
        )

    def retention(plugin_id: str | None, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return service.apply_retention()

    def backup(plugin_id: str | None, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return {"folder": service.backup(params.get("actor", "scheduled")).name}

    def deliver_alerts(plugin_id: str | None, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return deliver_pass(service)

    return {
        "train_models": train,
        "predict": predict,
        "detect_backlog": detect_backlog,
        "advise": advise,
        "batch_analysis": batch,
        "retention": retention,
        "backup": backup,
        "deliver_alerts": deliver_alerts,
    }


def deliver_pass(service: Any) -> dict[str, Any]:
    """Write the notifications of due alert groups and send what is pending (claims with a lease:
    two workers never send the same notification at once)."""
    delivery = service.alerting.delivery
    written = delivery.dispatch_due(now_ms())
    return {"written": written, "sent": delivery.deliver_due(now_ms())}


def _plugin(plugin_id: str | None) -> str:
    if not plugin_id:
        raise ValidationError("this job needs a plugin id", field="plugin_id")
    return plugin_id


# -- periodic work -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Periodic:
    """Work done every ``interval(settings)`` seconds: by the in-process scheduler, or by Celery
    beat sending it to a worker (never both: chosen by AI_ANALYTICS_EXECUTOR)."""

    name: str
    interval: Callable[[Settings], float]
    first_in: float  # seconds after start (in-process scheduler only)
    enabled: Callable[[Settings], bool] = lambda _settings: True


PERIODIC = (
    Periodic("retention", lambda s: s.retention_interval_seconds, 60),
    Periodic("score_predictions", lambda s: 60.0, 30),
    Periodic("retrain_due", lambda s: 600.0, 120),
    Periodic(
        "backup",
        lambda s: s.backup_interval_hours * 3600,
        0,  # the first one waits a whole interval (a backup at every start would be noise)
        lambda s: s.backup_interval_hours > 0,
    ),
    Periodic("alert_rules", lambda s: s.alert_evaluation_seconds, 5),
    Periodic("alert_retention", lambda s: 3600.0, 90),
)
# With the Celery executor, alert delivery is periodic work too (no delivery thread in API replicas).
DELIVERY_SECONDS = 2.0


def periodic_work(service: Any, name: str) -> Callable[[], Any]:
    """The function a periodic task of ``name`` runs on ``service``."""
    work: dict[str, Callable[[], Any]] = {
        "retention": service.apply_retention,
        "score_predictions": service.tracking.score_due,
        "retrain_due": service.tracking.retrain_tick,
        "backup": lambda: service.backup("scheduled"),
        "alert_rules": service.alerting.evaluate,
        "alert_retention": service.alerting.expire,
        "deliver_alerts": lambda: deliver_pass(service),
    }
    return work[name]


# -- a part of a distributed batch -------------------------------------------------------------


def analyse_part(
    analysts: Any, store: Any, job_id: str, plugin_id: str, params: dict[str, Any], worker: str
) -> dict[str, Any]:
    """Analyse one plugin of batch ``job_id`` (the Celery executor's unit of a batch).

    Idempotent under redelivery: a part whose result is stored is not run again; the steps a
    killed worker committed are not redone (training with ``retrain`` is skipped when a model was
    trained since the job was created), the rest is; the result is stored once, with the name of
    the ``worker`` that did it. The part that completes the batch closes its job.
    """
    part = store.batch_parts.begin(job_id, plugin_id, worker)
    job = store.jobs.get(job_id)
    if part["result"] is not None:
        log_event(logging.INFO, "batch_analysis", "part already done: not redone", plugin=plugin_id, job=job_id)
        _maybe_close(store, job_id, job)
        return part["result"]
    if job["status"] == "queued":
        store.jobs.update(job_id, status="running", started_at=now_ms())
    analyses = [a for a in BATCH_ANALYSES if a in params.get("analyses", BATCH_ANALYSES)]
    done: list[str] = list(part["steps"]["done"])
    result: dict[str, Any] = {"ok": True, **part["steps"]["partial"]}
    started = time.perf_counter()
    try:
        for step in analyses:
            if step in done:
                continue
            _step(analysts, store, step, plugin_id, bool(params.get("retrain")), job["created_at"], result)
            done.append(step)
            store.batch_parts.step_done(job_id, plugin_id, done, {k: v for k, v in result.items() if k != "ok"})
    except Exception as exc:  # one plugin's failure is its own result, not the batch's end
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        result = {"ok": False, "error": message, "partial": result}
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["worker"] = worker
    store.batch_parts.finish(job_id, plugin_id, result, worker)
    _maybe_close(store, job_id, job)
    return result


def _step(
    analysts: Any, store: Any, step: str, plugin_id: str, retrain: bool, since_ms: int, result: dict[str, Any]
) -> None:
    if step == "train":
        active = store.models.active(plugin_id)
        if not active or (retrain and min(m["trained_at"] for m in active) < since_ms):
            trained = analysts.forecasts.train_now(plugin_id, predict_after=False)
            result["trained"] = sorted(trained["trained"])
    elif step == "forecast":
        result["forecast"] = analysts.forecasts.refresh(plugin_id)
    elif step == "detect":
        status = analysts.detection.detect_now(plugin_id)
        analysts.detection.flush_states()
        analysts.detection.forget(plugin_id)  # keep a worker's memory flat over thousands of plugins
        result["anomaly_status"] = status.status
        result["open_anomalies"] = len(status.open_anomalies)
    elif step == "suggest":
        result["suggestions"] = [s.finding for s in analysts.advice.suggest(plugin_id).suggestions]


def _maybe_close(store: Any, job_id: str, job: dict[str, Any]) -> None:
    """Close the batch job when every part has a result (whichever part sees it first; closing
    twice writes the same thing)."""
    total = int(((job.get("result") or {}).get("params") or {}).get("plugins") or 0)
    finished = store.batch_parts.finished(job_id)
    if finished < total:
        # A write per part would make progress the bottleneck of a 10,000-plugin batch.
        if total and finished % max(1, total // 100) == 0:
            store.jobs.update(job_id, progress=finished / total)
        return
    job = store.jobs.get(job_id)  # read again: another part may have closed it meanwhile
    if job["status"] in ("succeeded", "failed"):
        return
    parts = store.batch_parts.results(job_id)
    results = {p["plugin_id"]: p["result"] for p in parts}
    failed = sorted(pid for pid, r in results.items() if not r.get("ok"))
    by_worker: dict[str, int] = {}
    for p in parts:
        by_worker[p["worker"]] = by_worker.get(p["worker"], 0) + 1
    finished_at = now_ms()
    summary = {
        "params": (job.get("result") or {}).get("params"),
        "plugins": total,
        "succeeded": total - len(failed),
        "failed": failed,
        "parts_by_worker": by_worker,
        "redelivered": sum(1 for p in parts if p["attempts"] > 1),
        "seconds": round((finished_at - (job["started_at"] or job["created_at"])) / 1000, 2),
        "results": results,
    }
    store.jobs.update(job_id, status="succeeded", progress=1.0, finished_at=finished_at, result=summary)
    log_event(logging.INFO, "batch_analysis", "batch finished", plugins=total, failed=len(failed), job=job_id)
