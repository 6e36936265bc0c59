"""The instrumentation client a host platform wraps around each plugin call: it times every call,
counts failures, aggregates them with the host process' CPU and memory into one sample per flush
interval, and delivers the samples in the background to the HTTP API or to an in-process sink.

The host comes first: a tracked call costs a few microseconds (two ``perf_counter`` reads and an
append under an uncontended lock), delivery runs on a daemon thread, and nothing is raised into
the host.

While the service is unreachable or answers 503/429, samples wait in an in-memory buffer of at
most ``max_buffer`` samples (default 10,000: 27 hours at one sample per 10 s, about 5 MB); when it
is full the oldest sample is dropped and counted (``stats()["dropped"]``): the host is never
blocked and its memory never grows past the bound. Delivery is retried with exponential back-off
(doubling from ``flush_interval`` up to ``max_backoff``, with jitter so many hosts do not retry in
step) and never sooner than the service's ``Retry-After``. A retry is idempotent: each sample
keeps the timestamp it was cut with, and the service stores one row per (plugin, timestamp),
merging a sample it already has; a batch stored by the service whose answer was lost (a timeout)
and sent again is therefore stored once.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import os
import random
import threading
import time
import weakref
from array import array
from collections import deque
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from plugin_ai_analytics.domain import valid_plugin_id

__all__ = ["COLLECT_PATH", "PluginMonitor", "Sink", "TrackedCall"]

P = ParamSpec("P")
R = TypeVar("R")
Sink = Callable[[str, list[dict[str, Any]]], None]

log = logging.getLogger("plugin_ai_analytics.client")

COLLECT_PATH = "/api/plugin-ai-analytics/collect-metrics/{plugin_id}"
# Well under the server's 10,000-sample request limit, so one request stays small and quick.
MAX_SAMPLES_PER_REQUEST = 1000
_perf_counter = time.perf_counter


class TrackedCall:
    """One call being timed by ``PluginMonitor.track()``; ``fail()`` marks it failed without raising."""

    __slots__ = ("_monitor", "_start", "_user", "failed")

    def __init__(self, monitor: PluginMonitor, user: Hashable | None) -> None:
        self._monitor = monitor
        self._user = user
        self.failed = False

    def fail(self) -> None:
        """Count this call as an error although it returns normally (e.g. an error response)."""
        self.failed = True

    def __enter__(self) -> TrackedCall:
        self._start = _perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        elapsed = _perf_counter() - self._start
        if exc_type is None:
            failed = self.failed
        elif issubclass(exc_type, Exception):
            failed = True
        else:
            # Cancellation and interpreter exit are not the plugin answering: record nothing.
            return False
        monitor = self._monitor
        with monitor._lock:
            monitor._durations.append(elapsed)
            if failed:
                monitor._errors += 1
            if self._user is not None:
                monitor._users.add(self._user)
        return False  # the host sees its exception unchanged


# Above this many calls per interval p95 is taken on an evenly strided subset: sorting a million
# floats holds the GIL for ~0.2 s, a stall the host would feel; 50,000 points keep p95 within a
# fraction of a percent while sorting in ~7 ms.
P95_EXACT_LIMIT = 50_000


def _p95(durations: array) -> float:
    if len(durations) > P95_EXACT_LIMIT:
        durations = durations[:: -(-len(durations) // P95_EXACT_LIMIT)]
    ordered = sorted(durations)
    # Linear interpolation between closest ranks (numpy's default), so small windows stay honest.
    position = 0.95 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _retry_after(value: str | None, most: float) -> float:
    """Seconds from a ``Retry-After`` header (delta-seconds form), at most ``most``; 0 without one."""
    try:
        return min(max(float(value), 0.0), most) if value else 0.0
    except ValueError:
        return 0.0  # the HTTP-date form: the back-off alone decides


def _restart_in_child(ref: weakref.ref[PluginMonitor]) -> None:
    monitor = ref()
    if monitor is not None:
        monitor._after_fork()


def _close_at_exit(ref: weakref.ref[PluginMonitor]) -> None:
    monitor = ref()
    if monitor is not None:
        monitor.close(timeout=2.0)


class PluginMonitor:
    """Measures the calls of one plugin inside a host process and ships one sample per interval.

    Give ``endpoint`` (base URL of the analytics service; samples are POSTed to
    ``{endpoint}/api/plugin-ai-analytics/collect-metrics/{plugin_id}``) or ``sink``
    (``sink(plugin_id, samples)`` called in-process). Each sample holds ``timestamp`` (ISO-8601
    UTC, end of the interval), ``response_time_ms`` (mean), ``response_time_p95_ms``,
    ``error_rate``, ``request_count``, ``cpu_percent`` and ``memory_mb`` of this process, and
    ``active_users`` when calls name their user.
    """

    def __init__(
        self,
        plugin_id: str,
        *,
        endpoint: str | None = None,
        sink: Sink | None = None,
        flush_interval: float = 10.0,
        max_buffer: int = 10_000,
        token: str | None = None,
        timeout: float = 5.0,
        max_backoff: float = 60.0,
    ) -> None:
        if not valid_plugin_id(plugin_id):
            raise ValueError(f"invalid plugin_id {plugin_id!r}")
        if (endpoint is None) == (sink is None):
            raise ValueError("give exactly one of endpoint or sink")
        if flush_interval <= 0 or max_buffer < 1 or timeout <= 0:
            raise ValueError("flush_interval and timeout must be > 0 and max_buffer >= 1")
        self.plugin_id = plugin_id
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.sink = sink
        self.flush_interval = float(flush_interval)
        self.max_buffer = int(max_buffer)
        self.timeout = float(timeout)
        self.max_backoff = max(float(max_backoff), self.flush_interval)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

        # Hot-path state, guarded by _lock; durations in seconds, compact (8 bytes per call).
        self._lock = threading.Lock()
        self._durations: array = array("d")
        self._errors = 0
        self._users: set[Hashable] = set()
        self._users_seen = False

        # Delivery state, touched only by whoever holds _io_lock (the thread, flush(), close()).
        self._io_lock = threading.Lock()
        self._buffer: deque[dict[str, Any]] = deque()
        self._sent = 0
        self._dropped = 0
        self._rejected = 0
        self._failed_attempts = 0
        self._last_error: str | None = None
        self._backoff = self.flush_interval
        self._retry_at = 0.0
        self._retry_after = 0.0  # what the service asked for in its last Retry-After, seconds
        self._http: Any = None
        self._process: Any = None

        self._closed = False
        self._start_thread()
        ref = weakref.ref(self)
        atexit.register(_close_at_exit, ref)
        # Pre-forking servers (gunicorn --preload) fork after the monitor exists: the child gets
        # no thread and possibly a lock held by a thread that no longer exists.
        os.register_at_fork(after_in_child=lambda: _restart_in_child(ref))

    def _start_thread(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"plugin-monitor-{self.plugin_id}", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child: fresh locks and state (the parent reports its own calls and keeps
        its own buffer), a fresh connection, and a delivery thread of its own."""
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._durations, self._errors, self._users = array("d"), 0, set()
        self._buffer = deque()
        self._sent = self._dropped = self._rejected = self._failed_attempts = 0
        self._last_error = None
        self._backoff, self._retry_at, self._retry_after = self.flush_interval, 0.0, 0.0
        self._http = None
        self._process = None
        if not self._closed:
            self._start_thread()

    # -- the host's side -------------------------------------------------------------------

    def track(self, user: Hashable | None = None) -> TrackedCall:
        """Context manager timing one plugin call; an exception inside counts as an error and
        propagates unchanged. ``user`` (any hashable id) feeds ``active_users``."""
        if user is not None:
            self._users_seen = True
        return TrackedCall(self, user)

    def tracked(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorator timing every call of ``fn`` (sync or ``async def``) like ``track()``."""
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError("tracked() cannot time a generator; wrap the code that consumes it in track()")
        perf_counter = _perf_counter
        monitor = self

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def tracked_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                start = perf_counter()
                try:
                    result = await fn(*args, **kwargs)
                except Exception:
                    elapsed = perf_counter() - start
                    with monitor._lock:
                        monitor._durations.append(elapsed)
                        monitor._errors += 1
                    raise
                elapsed = perf_counter() - start
                with monitor._lock:
                    monitor._durations.append(elapsed)
                return result

            return tracked_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def tracked_sync(*args: P.args, **kwargs: P.kwargs) -> R:
            start = perf_counter()
            try:
                result = fn(*args, **kwargs)
            except Exception:
                elapsed = perf_counter() - start
                with monitor._lock:
                    monitor._durations.append(elapsed)
                    monitor._errors += 1
                raise
            elapsed = perf_counter() - start
            with monitor._lock:
                monitor._durations.append(elapsed)
            return result

        return tracked_sync

    def record(self, duration_seconds: float, *, failed: bool = False, user: Hashable | None = None) -> None:
        """Record a call the host timed itself."""
        with self._lock:
            self._durations.append(duration_seconds)
            if failed:
                self._errors += 1
            if user is not None:
                self._users_seen = True
                self._users.add(user)

    # -- delivery ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Delivery counters: samples ``sent``, ``buffered`` (waiting), ``dropped`` (buffer full),
        ``rejected`` (refused by the server as invalid), ``failed_attempts`` and ``last_error``."""
        return {
            "sent": self._sent,
            "buffered": len(self._buffer),
            "dropped": self._dropped,
            "rejected": self._rejected,
            "failed_attempts": self._failed_attempts,
            "last_error": self._last_error,
        }

    def flush(self, timeout: float = 5.0) -> bool:
        """Close the current interval into a sample now and try to deliver everything buffered;
        True when nothing is left waiting. Never raises."""
        deadline = time.monotonic() + timeout
        if not self._io_lock.acquire(timeout=timeout):
            return False
        try:
            self._cut_sample()
            self._deliver(deadline, ignore_backoff=True)
            return not self._buffer
        except Exception as exc:  # the host must never see our failure
            self._last_error = repr(exc)
            return False
        finally:
            self._io_lock.release()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the background thread, closing the last interval and delivering what it can
        within ``timeout`` seconds. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout / 2)
        self.flush(timeout=max(0.1, timeout / 2))
        if self._http is not None and not self._thread.is_alive():
            self._http.close()

    def __enter__(self) -> PluginMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        try:
            # optional in a host: psutil loads only when process sampling is switched on
            from plugin_ai_analytics.collect.process import ProcessSource

            self._process = ProcessSource(pid=os.getpid())
            self._process.prime()
        except Exception as exc:  # no psutil access: samples still carry the call metrics
            self._process = None
            self._last_error = f"process metrics unavailable: {exc!r}"
        next_cut = time.monotonic() + self.flush_interval
        while not self._stop.wait(max(0.0, next_cut - time.monotonic())):
            now = time.monotonic()
            next_cut = max(next_cut + self.flush_interval, now)  # no burst of catch-up samples
            if not self._io_lock.acquire(timeout=self.flush_interval):
                continue
            try:
                self._cut_sample()
                self._deliver(now + self.timeout, ignore_backoff=False)
            except Exception as exc:  # keep the thread alive whatever happens
                self._last_error = repr(exc)
                log.exception("plugin monitor %s: delivery loop error", self.plugin_id)
            finally:
                self._io_lock.release()

    def _cut_sample(self) -> None:
        with self._lock:
            durations, errors, users = self._durations, self._errors, self._users
            self._durations, self._errors, self._users = array("d"), 0, set()
        count = len(durations)
        sample: dict[str, Any] = {"timestamp": datetime.now(UTC).isoformat(timespec="microseconds")}
        if self._process is not None:
            try:
                sample.update((k, v) for k, v in self._process.collect().items() if v is not None)
            except Exception as exc:
                self._last_error = f"process metrics unavailable: {exc!r}"
        sample["request_count"] = count
        if count:
            sample["response_time_ms"] = 1000.0 * sum(durations) / count
            sample["response_time_p95_ms"] = 1000.0 * _p95(durations)
            sample["error_rate"] = errors / count
        if self._users_seen:
            sample["active_users"] = len(users)
        self._buffer.append(sample)
        while len(self._buffer) > self.max_buffer:
            self._buffer.popleft()
            self._dropped += 1

    def _deliver(self, deadline: float, *, ignore_backoff: bool) -> None:
        if not self._buffer:
            return
        if not ignore_backoff and time.monotonic() < self._retry_at:
            return
        while self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            chunk = [self._buffer[i] for i in range(min(MAX_SAMPLES_PER_REQUEST, len(self._buffer)))]
            outcome = self._send(chunk, min(self.timeout, remaining))
            if outcome == "retry":
                self._failed_attempts += 1
                if self._failed_attempts == 1 or self._backoff == self.flush_interval:
                    log.warning(
                        "plugin monitor %s: delivery failed (%s); buffering and retrying",
                        self.plugin_id,
                        self._last_error,
                    )
                # Half the back-off fixed, half random: spread out, yet never much sooner than due.
                delay = self._backoff * (0.5 + random.random() / 2)
                self._retry_at = time.monotonic() + max(delay, self._retry_after)
                self._backoff = min(self._backoff * 2, self.max_backoff)
                self._retry_after = 0.0
                return
            for _ in chunk:
                self._buffer.popleft()
            if outcome == "sent":
                if self._backoff != self.flush_interval:
                    log.info("plugin monitor %s: delivery recovered", self.plugin_id)
                self._sent += len(chunk)
                self._backoff = self.flush_interval
                self._retry_at = 0.0
            else:
                self._rejected += len(chunk)
                log.warning("plugin monitor %s: %d samples rejected: %s", self.plugin_id, len(chunk), self._last_error)

    def _send(self, chunk: list[dict[str, Any]], timeout: float) -> str:
        """Deliver one chunk: "sent", "rejected" (invalid, do not retry) or "retry"."""
        if self.sink is not None:
            try:
                self.sink(self.plugin_id, list(chunk))
            except Exception as exc:
                self._last_error = repr(exc)
                # The service's own 4xx errors (bad sample) will fail the same way forever.
                status = getattr(exc, "status_code", 500)
                return "rejected" if isinstance(status, int) and 400 <= status < 500 else "retry"
            return "sent"
        import httpx  # start-up cost: a host that never flushes to a server never loads httpx

        if self._http is None:
            self._http = httpx.Client(headers=self._headers)
        url = self.endpoint + COLLECT_PATH.format(plugin_id=self.plugin_id)
        try:
            response = self._http.post(url, json={"samples": chunk}, timeout=timeout)
        except httpx.HTTPError as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            return "retry"
        if response.is_success:
            return "sent"
        self._last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        self._retry_after = _retry_after(response.headers.get("retry-after"), self.max_backoff)
        if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 408, 429):
            return "rejected"
        return "retry"
