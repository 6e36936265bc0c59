"""The job executor: runs long work (training, batch analysis, collection) off the request path.

Embedded default is an in-process pool of worker threads; every job's state lives in the store's
``jobs`` table so any API replica can answer "how is job X doing".

Everything here is bounded (issue 16): a job of a kind for a plugin that is already queued or
running is not queued twice (the caller gets the existing job's id), the queue holds at most
``max_queued`` jobs (beyond that ``QueueFull``, a 429 with Retry-After), and ``shutdown``
cancels what is still queued (recorded ``cancelled``), asks running work to stop at its next
progress report, and waits for it at most ``grace_seconds``. The workers are daemon threads, so
a job that ignores the request cannot hold the process past its grace period.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..errors import AnalyticsError, QueueFull
from ..logs import log_event
from ..store import JobRecords
from ..times import now_ms

__all__ = ["JobCancelled", "JobRunner", "Progress", "QueueState"]

Progress = Callable[[float], None]

# Said in Retry-After when the queue is full: about how long a queued job waits for a worker.
RETRY_AFTER_SECONDS = 30


class JobCancelled(Exception):
    """Raised inside a job's progress report once the runner is shutting down: the work stops at
    its next step and the job is recorded ``cancelled``."""


@dataclass(frozen=True)
class QueueState:
    """The queue as a readiness probe or system-status sees it."""

    queued: int  # waiting for a worker (jobs and scheduled tasks)
    running: int
    limit: int  # most jobs that may wait
    workers: int

    @property
    def full(self) -> bool:
        return self.queued >= self.limit


@dataclass
class _Job:
    job_id: str | None  # None: a scheduled task without a job record (run_now)
    kind: str
    plugin_id: str | None
    work: Callable[..., Any]
    future: Future | None = None
    args: tuple[Any, ...] = ()


class JobRunner:
    """Queues jobs on worker threads and records their life
    (queued → running → succeeded / failed / cancelled)."""

    def __init__(
        self, records: JobRecords, *, workers: int = 2, max_queued: int = 1000, grace_seconds: float = 5.0
    ) -> None:
        self._records = records
        self.workers = workers
        self.max_queued = max_queued
        self.grace_seconds = grace_seconds
        self._queue: deque[_Job] = deque()
        self._tasks: deque[_Job] = deque()  # scheduled tasks go before jobs: sampling must not starve
        self._running: dict[int, _Job] = {}  # thread id → what it runs
        self._active: dict[tuple[str, str], str] = {}  # (kind, plugin) → the job id queued or running
        self._abandoned: set[str] = set()  # recorded cancelled at shutdown while still running
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- submitting ---------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        plugin_id: str | None,
        work: Callable[[Progress], dict[str, Any]],
        params: dict[str, Any] | None = None,
    ) -> str:
        """Queue ``work``; returns the job's id (an existing one for a duplicate, see ``enqueue``)."""
        return self.enqueue(kind, plugin_id, work, params)[0]

    def enqueue(
        self,
        kind: str,
        plugin_id: str | None,
        work: Callable[[Progress], dict[str, Any]],
        params: dict[str, Any] | None = None,
    ) -> tuple[str, bool]:
        """Queue ``work`` unless a job of ``kind`` for ``plugin_id`` is queued or running already;
        returns ``(job id, whether it was queued now)``. Jobs without a plugin (a batch) are never
        merged. Raises ``QueueFull`` when ``max_queued`` jobs wait, ``Conflict`` when shutting down."""
        key = (kind, plugin_id) if plugin_id is not None else None
        with self._cond:
            self._refuse_if_closed()
            if key is not None and key in self._active:
                return self._active[key], False
            self._check_room()
        # The record is written outside the lock (a database round trip); the checks are repeated
        # after it, and a job that lost the race is recorded as the duplicate it turned out to be.
        job_id = self._records.create(kind, plugin_id, params)
        with self._cond:
            existing = self._active.get(key) if key is not None else None
            refused: AnalyticsError | None = None
            if existing is None:
                try:
                    self._refuse_if_closed()
                    self._check_room()
                except AnalyticsError as exc:
                    refused = exc
                else:
                    if key is not None:
                        self._active[key] = job_id
                    self._queue.append(_Job(job_id, kind, plugin_id, work))
                    self._start_workers()
                    self._cond.notify_all()  # a tasks-only worker woken alone would not take it
                    return job_id, True
        reason = f"duplicate of job {existing}" if existing else (refused.message if refused else "")
        self._records.update(job_id, status="cancelled", finished_at=now_ms(), error=reason)
        if refused is not None:
            raise refused
        assert existing is not None
        return existing, False

    def run_now(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run a short task on the workers without a job record (e.g. a scheduled collection)."""
        future: Future = Future()
        with self._cond:
            if self._stopping.is_set():
                future.cancel()
                return future
            self._tasks.append(_Job(None, getattr(fn, "__name__", "task"), None, fn, future, args))
            self._start_workers()
            self._cond.notify()
        return future

    def _refuse_if_closed(self) -> None:
        if self._stopping.is_set():
            raise QueueFull("the service is shutting down; submit the job again once it is back", retry_after=10)

    def _check_room(self) -> None:
        if len(self._queue) >= self.max_queued:
            raise QueueFull(
                f"the job queue is full ({len(self._queue)} jobs waiting, limit {self.max_queued}; "
                "AI_ANALYTICS_JOB_QUEUE_LIMIT); retry later",
                retry_after=RETRY_AFTER_SECONDS,
                queued=len(self._queue),
                limit=self.max_queued,
            )

    def _start_workers(self) -> None:
        """Start the worker threads on first use (called with the lock held)."""
        if self._threads:
            return
        for i in range(self.workers):
            thread = threading.Thread(target=self._worker, name=f"job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        # One more thread for scheduled tasks only: sampling and alert rules must not wait behind
        # long jobs holding every worker (the scheduler never queues a task twice: this is bounded).
        thread = threading.Thread(target=self._worker, args=(True,), name="job-tasks", daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- running ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """Whether shutdown has begun: long work checks this between its steps."""
        return self._stopping.is_set()

    def _worker(self, tasks_only: bool = False) -> None:
        me = threading.get_ident()
        while True:
            with self._cond:
                while not (self._tasks or (self._queue and not tasks_only) or self._stopping.is_set()):
                    self._cond.wait()
                if self._stopping.is_set():
                    return
                job = self._tasks.popleft() if self._tasks else self._queue.popleft()
                self._running[me] = job
            try:
                if job.job_id is None:
                    self._run_task(job)
                else:
                    self._run(job)
            finally:
                self._release(job)
                with self._cond:
                    self._running.pop(me, None)
                    self._cond.notify_all()

    def _release(self, job: _Job) -> None:
        """Forget the job as the one queued or running for its kind and plugin."""
        if job.job_id is None or job.plugin_id is None:
            return
        key = (job.kind, job.plugin_id)
        with self._cond:
            if self._active.get(key) == job.job_id:
                del self._active[key]

    @staticmethod
    def _run_task(job: _Job) -> None:
        assert job.future is not None
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            job.future.set_result(job.work(*job.args))
        except BaseException as exc:  # handed to whoever holds the future, as a pool would
            job.future.set_exception(exc)

    def _run(self, job: _Job) -> None:
        records, job_id, kind, plugin_id = self._records, job.job_id, job.kind, job.plugin_id
        assert job_id is not None
        records.update(job_id, status="running", started_at=now_ms())
        log_event(logging.INFO, kind, "job started", plugin=plugin_id, job=job_id)
        last = [0.0]

        def progress(fraction: float) -> None:
            if self._stopping.is_set():
                raise JobCancelled("the service is shutting down")
            # Writing every tick would make progress reporting the bottleneck of fast jobs.
            fraction = max(0.0, min(1.0, fraction))
            if fraction - last[0] >= 0.01 or fraction >= 1.0:
                last[0] = fraction
                records.update(job_id, progress=fraction)

        def finish(**values: Any) -> None:
            self._release(job)  # before the end is written: whoever reads it may queue the next one
            if job_id not in self._abandoned:  # shutdown recorded it cancelled already
                records.update(job_id, finished_at=now_ms(), **values)

        try:
            result = job.work(progress)
        except JobCancelled as exc:
            finish(status="cancelled", error=f"cancelled: {exc}")
            log_event(logging.WARNING, kind, "job cancelled at shutdown", plugin=plugin_id, job=job_id)
        except AnalyticsError as exc:
            finish(status="failed", error=exc.message, result=exc.to_dict())
            # A refusal the client can act on (too little data, 4xx) is a warning; ERROR means a fault.
            level = logging.WARNING if exc.status_code < 500 else logging.ERROR
            log_event(level, kind, f"job failed: {exc.message}", plugin=plugin_id, job=job_id)
        except Exception as exc:  # a job must never take the worker down with it
            finish(status="failed", error=f"{type(exc).__name__}: {exc}")
            log_event(
                logging.ERROR,
                kind,
                f"job crashed: {exc!r}\n{traceback.format_exc()}",
                plugin=plugin_id,
                job=job_id,
            )
        else:
            finish(status="succeeded", progress=1.0, result=result)
            log_event(logging.INFO, kind, "job succeeded", plugin=plugin_id, job=job_id)

    # -- reading ------------------------------------------------------------------------------

    def state(self) -> QueueState:
        """Queue depth and its bound, read without touching the database (readiness probes)."""
        with self._cond:
            return QueueState(
                queued=len(self._queue) + len(self._tasks),
                running=len(self._running),
                limit=self.max_queued,
                workers=self.workers,
            )

    def is_active(self, kind: str, plugin_id: str) -> bool:
        """Whether a job of ``kind`` for the plugin is queued or running in this process."""
        with self._cond:
            return (kind, plugin_id) in self._active

    def active_count(self, kind: str) -> int:
        """Jobs of ``kind`` (with a plugin) queued or running in this process."""
        with self._cond:
            return sum(1 for k, _ in self._active if k == kind)

    @property
    def queue_depth(self) -> int:
        """Jobs and tasks queued or running in this process."""
        state = self.state()
        return state.queued + state.running

    # -- stopping -----------------------------------------------------------------------------

    def shutdown(self, wait: bool = True) -> None:
        """Cancel every queued job (recorded ``cancelled``), ask running ones to stop and wait for
        them at most ``grace_seconds`` (not at all without ``wait``); what still runs then is
        recorded ``cancelled`` and left to die with the process."""
        with self._cond:
            self._stopping.set()
            queued = list(self._queue)
            tasks = list(self._tasks)
            self._queue.clear()
            self._tasks.clear()
            self._active.clear()
            self._cond.notify_all()
        for task in tasks:
            assert task.future is not None
            task.future.cancel()
        if queued:
            ids = [j.job_id for j in queued if j.job_id is not None]
            self._records.cancel(ids, "cancelled: the service shut down before the job started")
            log_event(logging.WARNING, "jobs", f"cancelled {len(ids)} queued jobs at shutdown")
        deadline = time.monotonic() + (self.grace_seconds if wait else 0.0)
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._cond:
            left = [j for j in self._running.values() if j.job_id is not None]
            self._abandoned.update(j.job_id for j in left if j.job_id is not None)
        if left:
            ids = [j.job_id for j in left if j.job_id is not None]
            self._records.cancel(ids, f"cancelled: still running {self.grace_seconds:g} s after shutdown began")
            log_event(logging.WARNING, "jobs", f"{len(ids)} running jobs did not stop within the grace period")
