"""The one writer of pushed samples on SQLite: a bounded queue drained by a single thread that
commits several waiting batches in one transaction (group commit).

SQLite has one write lock per database. Request threads that each opened their own transaction
queued on that lock inside ``busy_timeout`` (a sleep-and-retry loop), so under 12 pushing
connections a batch's p99 reached seconds while the lock sat idle between retries (issue 16 row 7).
Here each request hands its validated rows to the writer and waits, with a timeout, for the
commit of the group that holds them: an answered push is durable (WAL, committed), and the
writer keeps the lock busy back to back. A group that fails is retried batch by batch, so one bad
batch fails alone. PostgreSQL has row locks and many connections: there, rows are written
directly by the request's thread.

A push that times out answers 503; its batch may still be committed afterwards (it was queued),
and resending it is safe: a sample's (plugin, time) is merged, never stored twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import AnalyticsError, Overloaded
from ..logs import log_event
from ..store import MetricRecords

__all__ = ["MetricWriter"]

# Rows committed in one transaction at most: a group this size commits in ~0.1–0.3 s on 2 cores.
GROUP_ROWS = 20_000
# Batches that may wait for the writer; beyond that a push is refused at once with 503.
QUEUE_BATCHES = 256


@dataclass
class _Batch:
    plugin_id: str
    rows: Sequence[tuple[Any, ...]]
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[int, int] | None = None
    error: BaseException | None = None
    abandoned: bool = False  # its pusher gave up before the writer took it: skipped


class MetricWriter:
    """``write(plugin_id, rows)`` → ``(new rows, merged rows)``, through the one writer thread on
    SQLite, directly on PostgreSQL."""

    def __init__(self, metrics: MetricRecords, *, single_writer: bool, timeout: float = 10.0) -> None:
        self._metrics = metrics
        self._single = single_writer
        self._timeout = timeout
        self._queue: queue.Queue[_Batch] = queue.Queue(maxsize=QUEUE_BATCHES)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.groups = 0  # transactions committed by the writer (system-status, benchmarks)
        self.batches = 0

    def write(self, plugin_id: str, rows: Sequence[tuple[Any, ...]]) -> tuple[int, int]:
        if not self._single:
            return self._metrics.insert(plugin_id, rows)
        batch = _Batch(plugin_id, rows)
        deadline = time.monotonic() + self._timeout
        self._start()
        try:
            self._queue.put(batch, timeout=self._timeout)
        except queue.Full:
            raise self._busy("the write queue is full") from None
        if not batch.done.wait(max(0.0, deadline - time.monotonic())):
            with self._lock:
                if not batch.done.is_set():
                    batch.abandoned = True
            if not batch.done.is_set():
                raise self._busy(f"the batch was not committed within {self._timeout:g} s")
        if batch.error is not None:
            raise batch.error
        assert batch.result is not None
        return batch.result

    def _busy(self, why: str) -> Overloaded:
        log_event(logging.WARNING, "collect_metrics", f"push refused: {why}")
        return Overloaded(
            f"{why} (the database is busy); resend the batch: samples already stored are merged, not duplicated",
            retry_after=2,
        )

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise Overloaded("the service is shutting down; resend the batch once it is back", retry_after=10)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="metric-writer", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._closed:
                    return
                continue
            group = [first]
            rows = len(first.rows)
            while rows < GROUP_ROWS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                group.append(more)
                rows += len(more.rows)
            self._commit(group)

    def _commit(self, group: list[_Batch]) -> None:
        with self._lock:  # a batch whose pusher already gave up is not written
            group = [b for b in group if not b.abandoned]
        if not group:
            return
        try:
            results = self._metrics.insert_group([(b.plugin_id, b.rows) for b in group])
        except Exception as exc:
            if len(group) == 1:
                self._finish(group[0], error=exc)
                return
            # One batch may be the cause: each alone, so only that one fails.
            for b in group:
                try:
                    self._finish(b, result=self._metrics.insert(b.plugin_id, b.rows))
                except Exception as one:
                    self._finish(b, error=one)
            return
        self.groups += 1
        for b, result in zip(group, results, strict=True):
            self._finish(b, result=result)

    def _finish(
        self, batch: _Batch, *, result: tuple[int, int] | None = None, error: BaseException | None = None
    ) -> None:
        if error is not None and not isinstance(error, AnalyticsError):
            log_event(logging.ERROR, "collect_metrics", f"batch not stored: {error!r}", plugin=batch.plugin_id)
        batch.result, batch.error = result, error
        self.batches += 1
        batch.done.set()

    def close(self, timeout: float = 5.0) -> None:
        """Refuse new batches, commit the ones queued (their pushers wait), stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
