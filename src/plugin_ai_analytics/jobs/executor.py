"""The job executor: runs long work (training, batch analysis, collection) off the request path.

Embedded default is an in-process thread pool; every job's state lives in the store's ``jobs``
table so any API replica can answer "how is job X doing".
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..errors import AnalyticsError
from ..logs import log_event
from ..store import JobRecords
from ..times import now_ms

__all__ = ["JobRunner", "Progress", "QueueState"]

Progress = Callable[[float], None]


@dataclass(frozen=True)
class QueueState:
    """The queue as a readiness probe or system-status sees it."""

    queued: int  # waiting for a worker or running
    running: int
    limit: int  # most jobs that may wait
    workers: int

    @property
    def full(self) -> bool:
        return self.queued >= self.limit


class JobRunner:
    """Queues jobs on a pool and records their life (queued → running → succeeded/failed)."""

    def __init__(self, records: JobRecords, *, workers: int = 2, max_queued: int = 1000) -> None:
        self._records = records
        self.max_queued = max_queued
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._pending = 0
        self._lock = threading.Lock()
        self.workers = workers

    def submit(
        self,
        kind: str,
        plugin_id: str | None,
        work: Callable[[Progress], dict[str, Any]],
        params: dict[str, Any] | None = None,
    ) -> str:
        job_id = self._records.create(kind, plugin_id, params)
        with self._lock:
            self._pending += 1
        self._pool.submit(self._run, job_id, kind, plugin_id, work)
        return job_id

    def _run(self, job_id: str, kind: str, plugin_id: str | None, work: Callable[[Progress], dict]) -> None:
        records = self._records
        records.update(job_id, status="running", started_at=now_ms())
        log_event(logging.INFO, kind, "job started", plugin=plugin_id, job=job_id)
        last = [0.0]

        def progress(fraction: float) -> None:
            # Writing every tick would make progress reporting the bottleneck of fast jobs.
            fraction = max(0.0, min(1.0, fraction))
            if fraction - last[0] >= 0.01 or fraction >= 1.0:
                last[0] = fraction
                records.update(job_id, progress=fraction)

        try:
            result = work(progress)
        except AnalyticsError as exc:
            records.update(job_id, status="failed", finished_at=now_ms(), error=exc.message, result=exc.to_dict())
            # A refusal the client can act on (too little data, 4xx) is a warning; ERROR means a fault.
            level = logging.WARNING if exc.status_code < 500 else logging.ERROR
            log_event(level, kind, f"job failed: {exc.message}", plugin=plugin_id, job=job_id)
        except Exception as exc:  # a job must never take the worker down with it
            records.update(job_id, status="failed", finished_at=now_ms(), error=f"{type(exc).__name__}: {exc}")
            log_event(
                logging.ERROR,
                kind,
                f"job crashed: {exc!r}\n{traceback.format_exc()}",
                plugin=plugin_id,
                job=job_id,
            )
        else:
            records.update(job_id, status="succeeded", progress=1.0, finished_at=now_ms(), result=result)
            log_event(logging.INFO, kind, "job succeeded", plugin=plugin_id, job=job_id)
        finally:
            with self._lock:
                self._pending -= 1

    def run_now(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run a short task on the pool without a job record (e.g. a scheduled collection)."""
        return self._pool.submit(fn, *args)

    def state(self) -> QueueState:
        """Queue depth and its bound, read without touching the database (readiness probes)."""
        with self._lock:
            return QueueState(queued=self._pending, running=0, limit=self.max_queued, workers=self.workers)

    @property
    def queue_depth(self) -> int:
        with self._lock:
            return self._pending

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
