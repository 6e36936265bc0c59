"""The in-process executor (the default): named work runs on this process's ``JobRunner`` pool;
a batch is one job that spreads over a local process pool (``service/batch.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .base import TaskWork
from .executor import JobRunner

__all__ = ["InProcessExecutor"]


class InProcessExecutor:
    name = "inprocess"

    def __init__(self, runner: JobRunner, tasks: Callable[[str], TaskWork]) -> None:
        self._runner = runner
        self._tasks = tasks

    def submit(self, kind: str, plugin_id: str | None, params: dict[str, Any] | None = None) -> str:
        work = self._tasks(kind)  # an unknown kind fails here, at submission, not in the pool
        given = dict(params or {})
        return self._runner.submit(kind, plugin_id, lambda progress: work(plugin_id, given, progress), given or None)

    def enqueue(self, kind: str, plugin_id: str, params: dict[str, Any] | None = None) -> tuple[str, bool]:
        work = self._tasks(kind)
        given = dict(params or {})
        return self._runner.enqueue(kind, plugin_id, lambda progress: work(plugin_id, given, progress), given or None)

    def is_active(self, kind: str, plugin_id: str) -> bool:
        return self._runner.is_active(kind, plugin_id)

    def active_count(self, kind: str) -> int:
        return self._runner.active_count(kind)

    def submit_batch(self, plugin_ids: Sequence[str], params: dict[str, Any]) -> str:
        work, ids = self._tasks("batch_analysis"), list(plugin_ids)
        given = {**params, "plugin_ids": ids}
        recorded = {"plugins": len(ids), "analyses": params.get("analyses")}
        return self._runner.submit("batch_analysis", None, lambda progress: work(None, given, progress), recorded)

    @property
    def workers(self) -> int:
        return self._runner.workers

    @property
    def queue_depth(self) -> int:
        return self._runner.queue_depth

    def shutdown(self, wait: bool = True) -> None:
        self._runner.shutdown(wait=wait)
