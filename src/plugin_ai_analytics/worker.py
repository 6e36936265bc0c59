"""The processes of a scaled-out deployment (AI_ANALYTICS_EXECUTOR=celery), besides the API:
Celery workers that run the jobs, and the one beat process that times the periodic work.

A worker process opens a service of its own (not started: no scheduler, no delivery thread) the
first time it runs a task, and runs the same named work the in-process executor runs
(``service/tasks.py``). A job's state is written to the ``jobs`` table as it goes; a job found
finished is not run again (a message delivered twice). The beat process holds a PostgreSQL
advisory lock for its whole life, so a second beat started by mistake stops at once instead of
timing everything twice; it also samples the plugins' pull sources (the in-process scheduler, for
that alone). docs/deployment.md.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

from celery import Celery
from celery.signals import worker_process_init
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from .config import Settings
from .errors import AnalyticsError, ValidationError
from .jobs.celery_app import QUEUE, RUN_JOB, RUN_PART, make_celery
from .logs import configure_logging, log_event
from .service import AnalyticsService
from .service.batch import Analysts
from .service.tasks import DELIVERY_SECONDS, PERIODIC, analyse_part, periodic_work, task_table, worker_name
from .times import now_ms

__all__ = ["build_app", "run_worker", "run_beat", "ping_workers", "RUN_PERIODIC", "BEAT_LOCK"]

RUN_PERIODIC = "plugin_ai_analytics.periodic"
# The advisory lock key the one beat process holds (pg_try_advisory_lock(hashtext(...))).
BEAT_LOCK = "plugin-ai-analytics:beat"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: waited lock_timeout for a lock
# A part whose plugin is locked by a delivery still running elsewhere waits, then tries again.
PART_RETRY_SECONDS = 5
PART_RETRIES = 60

_service: AnalyticsService | None = None
_service_lock = threading.Lock()


def _open(settings: Settings) -> AnalyticsService:
    """This worker process's service, opened on its first task (after the pool forked it)."""
    global _service
    with _service_lock:
        if _service is None:
            from threadpoolctl import threadpool_limits  # start-up cost: only worker processes need it

            # One task at a time per process: BLAS threads would only contend for the same cores.
            threadpool_limits(limits=1)
            _service = AnalyticsService(settings)
        return _service


def build_app(settings: Settings) -> Celery:
    """The Celery application with this project's tasks and the beat schedule."""
    if settings.executor != "celery":
        raise ValidationError("set AI_ANALYTICS_EXECUTOR=celery to run workers or beat", field="AI_ANALYTICS_EXECUTOR")
    app = make_celery(settings.broker_url, visibility_seconds=settings.task_visibility_seconds)

    @app.task(name=RUN_JOB)
    def run_job(job_id: str, kind: str, plugin_id: str | None, params: dict[str, Any]) -> None:
        _run_job(_open(settings), job_id, kind, plugin_id, params)

    @app.task(
        name=RUN_PART,
        bind=True,
        autoretry_for=(_PartBusy,),
        retry_kwargs={"max_retries": PART_RETRIES, "countdown": PART_RETRY_SECONDS},
    )
    def run_part(self: Any, job_id: str, plugin_id: str, params: dict[str, Any]) -> None:
        service = _open(settings)
        analysts = Analysts(
            store=service.store,
            history=service.history,
            forecasts=service.forecasts,
            detection=service.detection,
            advice=service.advice,
        )
        try:
            # Two deliveries of one part (a restored message while the first still runs) never
            # analyse the plugin at once; the second then finds the result and stops.
            with service.store.plugin_lock(f"batch-part:{job_id}", plugin_id):
                analyse_part(analysts, service.store, job_id, plugin_id, params, worker_name(self.request.hostname))
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise _PartBusy(str(exc)) from exc
            raise

    @app.task(name=RUN_PERIODIC)
    def run_periodic(name: str) -> None:
        service = _open(settings)
        started = now_ms()
        periodic_work(service, name)()
        log_event(logging.INFO, "periodic", f"{name} ran", worker=worker_name(), took_ms=now_ms() - started)

    @worker_process_init.connect(weak=False)
    def _ready(**_kwargs: Any) -> None:
        # A pool process is ready when it can run a task at once: the service opened and the
        # engines loaded (seconds of imports), not on the first task it takes.
        _open(settings)
        import sklearn.ensemble  # noqa: F401 - start-up cost, paid before the first task

        from .anomaly import PluginDetector  # noqa: F401 - start-up cost, paid before the first task
        from .forecast import train  # noqa: F401 - start-up cost, paid before the first task

        log_event(logging.INFO, "worker", "worker process ready", worker=worker_name())

    schedule: dict[str, dict[str, Any]] = {
        task.name: {"task": RUN_PERIODIC, "schedule": task.interval(settings), "args": [task.name]}
        for task in PERIODIC
        if task.enabled(settings)
    }
    schedule["deliver_alerts"] = {"task": RUN_PERIODIC, "schedule": DELIVERY_SECONDS, "args": ["deliver_alerts"]}
    app.conf.beat_schedule = schedule
    return app


class _PartBusy(Exception):
    """Another delivery of the same part holds it: try again shortly."""


def _run_job(service: AnalyticsService, job_id: str, kind: str, plugin_id: str | None, params: dict) -> None:
    records = service.store.jobs
    job = records.get(job_id)
    if job["status"] in ("succeeded", "failed"):
        log_event(logging.INFO, kind, "job already finished: not run again", plugin=plugin_id, job=job_id)
        return
    work = task_table(service)[kind]
    records.update(job_id, status="running", started_at=now_ms())
    log_event(logging.INFO, kind, "job started", plugin=plugin_id, job=job_id, worker=worker_name())
    last = [0.0]

    def progress(fraction: float) -> None:
        fraction = max(0.0, min(1.0, fraction))
        if fraction - last[0] >= 0.01 or fraction >= 1.0:
            last[0] = fraction
            records.update(job_id, progress=fraction)

    try:
        result = work(plugin_id, params, progress)
    except AnalyticsError as exc:
        records.update(job_id, status="failed", finished_at=now_ms(), error=exc.message, result=exc.to_dict())
        level = logging.WARNING if exc.status_code < 500 else logging.ERROR
        log_event(level, kind, f"job failed: {exc.message}", plugin=plugin_id, job=job_id)
    except Exception as exc:  # recorded as the job's failure; the task itself is done
        records.update(job_id, status="failed", finished_at=now_ms(), error=f"{type(exc).__name__}: {exc}")
        log_event(logging.ERROR, kind, f"job crashed: {exc!r}\n{traceback.format_exc()}", plugin=plugin_id, job=job_id)
    else:
        records.update(job_id, status="succeeded", progress=1.0, finished_at=now_ms(), result=result)
        log_event(logging.INFO, kind, "job succeeded", plugin=plugin_id, job=job_id)


def run_worker(settings: Settings, *, concurrency: int, hostname: str | None, pool: str, loglevel: str) -> None:
    """Run a Celery worker until SIGTERM (warm shutdown: the tasks in flight finish first; a second
    SIGTERM or SIGQUIT stops at once, and those tasks go back to the queue)."""
    configure_logging(settings.log_dir, settings.log_level)
    app = build_app(settings)
    argv = ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", f"--pool={pool}", "-Q", QUEUE]
    argv += ["--without-gossip", "--without-mingle"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main(argv)


def run_beat(settings: Settings, *, loglevel: str) -> None:
    """Run the one beat process: the periodic work's timer, and the sampling of pull sources."""
    configure_logging(settings.log_dir, settings.log_level)
    app = build_app(settings)
    service = AnalyticsService(settings)
    # Held for the life of this process (its own connection); PostgreSQL drops it if we die.
    holder = service.store.engine.connect()
    taken = holder.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": BEAT_LOCK}).scalar_one()
    holder.commit()
    if not taken:
        holder.close()
        service.close()
        raise ValidationError(
            "another beat process is running on this database: run exactly one (docs/deployment.md)", field="beat"
        )
    log_event(logging.INFO, "beat", "beat started", periodic=",".join(sorted(app.conf.beat_schedule)))
    service.sample_sources()
    if settings.scheduler_enabled:
        service.scheduler.start()
    schedule_file = settings.data_dir / "celerybeat-schedule"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        app.Beat(loglevel=loglevel, schedule=str(schedule_file), max_interval=1).run()
    finally:
        service.close()
        holder.close()


def ping_workers(settings: Settings, timeout: float = 2.0) -> list[str]:
    """The workers that answer within ``timeout`` seconds (a readiness check for worker machines)."""
    app = make_celery(settings.broker_url)
    try:
        return sorted(name for reply in app.control.ping(timeout=timeout) or [] for name in reply)
    finally:
        app.close()
