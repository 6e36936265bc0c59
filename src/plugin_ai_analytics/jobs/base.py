"""The executor interface: where background work runs, behind one call.

Work is named (``kind``) with JSON parameters, never handed over as a closure, so the same
submission runs in this process (``InProcessExecutor``, the default) or on any worker machine
(``CeleryExecutor``). Either way the job's life is in the store's ``jobs`` table, so any API
replica answers "how is job X doing". The table of named work is the service's
(``service/tasks.py``); an executor only decides where it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = ["Executor", "TaskWork", "EXECUTORS"]

# What each setting of AI_ANALYTICS_EXECUTOR selects.
EXECUTORS = ("inprocess", "celery")

# One named task bound to the service that runs it: (plugin id or None, parameters, progress) -> result.
TaskWork = Callable[[str | None, dict[str, Any], Callable[[float], None]], dict[str, Any]]


class Executor(Protocol):
    """Runs named work off the request path and records each job's life in the store."""

    name: str  # "inprocess" or "celery"

    def submit(self, kind: str, plugin_id: str | None, params: dict[str, Any] | None = None) -> str:
        """Queue one job of ``kind``; returns its id (``GET /jobs/{id}``)."""
        ...

    def enqueue(self, kind: str, plugin_id: str, params: dict[str, Any] | None = None) -> tuple[str, bool]:
        """Queue a job of ``kind`` for the plugin unless one is queued or running already:
        ``(job id, whether it was queued now)``. Raises ``QueueFull`` (429) at the queue's bound."""
        ...

    def is_active(self, kind: str, plugin_id: str) -> bool:
        """Whether a job of ``kind`` for the plugin is queued or running."""
        ...

    def active_count(self, kind: str) -> int:
        """Jobs of ``kind`` queued or running."""
        ...

    def submit_batch(self, plugin_ids: Sequence[str], params: dict[str, Any]) -> str:
        """Queue a batch analysis as one job; its per-plugin parts may run on different workers."""
        ...

    @property
    def workers(self) -> int:
        """Processes or threads that run jobs (for a distributed executor: worker processes seen)."""
        ...

    @property
    def queue_depth(self) -> int:
        """Jobs queued or running."""
        ...

    def shutdown(self, wait: bool = True) -> None: ...
