"""The Celery executor: jobs go through the broker (Redis, AI_ANALYTICS_BROKER_URL) to worker
processes on any machine; their state stays in the store's ``jobs`` table (PostgreSQL), so
Celery's result backend is not used.

Delivery is at least once and made harmless: a task is acknowledged only when it finished
(``task_acks_late``), a worker process lost mid-task sends its task back to the queue
(``task_reject_on_worker_lost``), and a worker takes one task at a time (prefetch 1), so a
killed worker holds nothing but the task it was running. A whole worker machine that dies
leaves its task unacknowledged in Redis, delivered again after ``visibility_seconds``. Every
task is idempotent by its job id (``service/tasks.py``), so a second delivery finishes the work
without redoing what was committed and without a second row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from celery import Celery

from ..errors import QueueFull
from ..store import JobRecords

__all__ = ["CeleryExecutor", "make_celery", "RUN_JOB", "RUN_PART", "QUEUE"]

QUEUE = "plugin-ai-analytics"
RUN_JOB = "plugin_ai_analytics.run_job"
RUN_PART = "plugin_ai_analytics.analyse_part"
# How long the count of live workers (system-status) is reused before the workers are asked again.
WORKERS_SEEN_SECONDS = 30.0


def make_celery(broker_url: str, *, visibility_seconds: float = 3600.0) -> Celery:
    """The Celery application every process of a deployment shares (API replicas send, workers
    run, beat schedules)."""
    app = Celery("plugin_ai_analytics", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # job state and results are in the jobs table
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        broker_transport_options={
            "visibility_timeout": visibility_seconds,
            # look for tasks a dead worker left unacknowledged every few seconds (kombu's default
            # sweep is every 100 s), so they go out again soon after their visibility ends
            "unacked_restore_interval": max(1, min(10, int(visibility_seconds // 4))),
            "unacked_restore_throttle": 1,
            "socket_timeout": 10,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="UTC",
    )
    return app


class CeleryExecutor:
    name = "celery"

    def __init__(self, app: Celery, records: JobRecords, *, max_queued: int = 1000, retry_after: int = 5) -> None:
        self.app = app
        self._records = records
        self.max_queued = max_queued
        self._retry_after = retry_after
        self._seen: tuple[float, int] = (0.0, 0)

    def submit(self, kind: str, plugin_id: str | None, params: dict[str, Any] | None = None) -> str:
        self._check_room()
        job_id = self._records.create(kind, plugin_id, params)
        # The Celery task id is the job id: a redelivered message names the same job.
        self.app.send_task(RUN_JOB, args=[job_id, kind, plugin_id, dict(params or {})], task_id=job_id)
        return job_id

    def enqueue(self, kind: str, plugin_id: str, params: dict[str, Any] | None = None) -> tuple[str, bool]:
        # The queue is the broker's, shared by every replica: a job to merge with is found in the
        # jobs table. Two replicas asked at the same instant may both queue one; the tasks are
        # idempotent, so the second only repeats work (training twice stores two model versions).
        active = self._records.active(kind, plugin_id)
        if active:
            return active[0], False
        return self.submit(kind, plugin_id, params), True

    def is_active(self, kind: str, plugin_id: str) -> bool:
        return bool(self._records.active(kind, plugin_id))

    def active_count(self, kind: str) -> int:
        return len(self._records.active(kind))

    def _check_room(self) -> None:
        queued = self._records.counts().get("queued", 0)
        if queued >= self.max_queued:
            raise QueueFull(
                f"the job queue is full ({queued} jobs waiting, the limit is {self.max_queued}); "
                f"retry in {self._retry_after} s",
                retry_after=self._retry_after,
                limit=self.max_queued,
            )

    def submit_batch(self, plugin_ids: Sequence[str], params: dict[str, Any]) -> str:
        """One job, one task per plugin (``job_id:plugin_id``): the workers share the batch a
        plugin at a time, and the part that finishes last closes the job."""
        ids = list(plugin_ids)
        self._check_room()
        job_id = self._records.create(
            "batch_analysis", None, {"plugins": len(ids), "analyses": params.get("analyses"), "parts": True}
        )
        with self.app.producer_or_acquire() as producer:
            for plugin_id in ids:
                self.app.send_task(
                    RUN_PART, args=[job_id, plugin_id, params], task_id=f"{job_id}:{plugin_id}", producer=producer
                )
        return job_id

    @property
    def workers(self) -> int:
        at, count = self._seen
        if time.monotonic() - at > WORKERS_SEEN_SECONDS:
            try:
                count = len(self.app.control.ping(timeout=0.5) or [])
            except Exception:  # a broker that does not answer: no worker is seen
                count = 0
            self._seen = (time.monotonic(), count)
        return count

    @property
    def queue_depth(self) -> int:
        counts = self._records.counts()
        return counts.get("queued", 0) + counts.get("running", 0)

    def shutdown(self, wait: bool = True) -> None:
        self.app.close()
