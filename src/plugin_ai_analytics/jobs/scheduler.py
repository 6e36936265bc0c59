"""The scheduler: wakes once a second and starts whatever is due (source sampling now;
retention, retraining and backups as those land).

Each task has its own interval and remembers its next due time; a slow task never delays the
others because the work itself runs on the executor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..logs import log_event

__all__ = ["Scheduler"]


@dataclass
class _Task:
    name: str
    interval: float
    run: Callable[[], None]
    next_due: float
    running: bool = False
    runs: int = 0
    failures: int = 0
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Scheduler:
    def __init__(self, submit: Callable[[Callable[[], None]], object], *, tick: float = 1.0) -> None:
        self._submit = submit
        self._tick = tick
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at: float | None = None

    def every(self, name: str, interval: float, run: Callable[[], None], *, first_in: float = 0.0) -> None:
        """Run ``run`` every ``interval`` seconds (replacing a task of the same name)."""
        with self._lock:
            self._tasks[name] = _Task(name, interval, run, time.monotonic() + first_in)

    def cancel(self, name: str) -> None:
        with self._lock:
            self._tasks.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._tasks)

    def start(self) -> None:
        if self._thread is not None:
            return
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, object]:
        with self._lock:
            tasks = list(self._tasks.values())
        return {
            "running": self.running,
            "tasks": len(tasks),
            "task_failures": sum(t.failures for t in tasks),
            "failing": sorted(t.name for t in tasks if t.last_error),
        }

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            now = time.monotonic()
            with self._lock:
                due = [t for t in self._tasks.values() if t.next_due <= now and not t.running]
            for task in due:
                task.running = True
                # Keep the cadence fixed to the schedule, not to when the last run finished.
                task.next_due = max(task.next_due + task.interval, now)
                self._submit(lambda task=task: self._run(task))

    def _run(self, task: _Task) -> None:
        try:
            task.run()
            task.last_error = None
        except Exception as exc:
            task.failures += 1
            task.last_error = str(exc)
            if not getattr(exc, "logged", False):
                log_event(logging.ERROR, "scheduler", f"task {task.name} failed: {exc}")
        finally:
            task.runs += 1
            task.running = False
