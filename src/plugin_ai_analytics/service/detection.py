"""Real-time anomaly detection: one streaming detector per plugin, fed every stored sample on
arrival, its events kept in the store, its state persisted across restarts.

Small pushes are scored in the request straight from the batch (the response carries the
verdict); large ones, scheduled collections and anything the detector has not seen yet are
scored by a background worker that reads what is new from the store, so a burst coalesces into
one pass instead of a growing queue. The engine in ``anomaly/`` is pure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..domain import METRIC_NAMES
from ..errors import ModelIntegrityError, ValidationError
from ..logs import log_event
from ..schemas import AnomalyEvent, DetectionResult
from ..store import AnomalyRecords, DetectorStates, MetricRecords, PluginRecords
from .anomaly_rows import EventViews, event_row, public_event, verdict_summary
from .detection_shared import AcrossProcesses

if TYPE_CHECKING:
    from ..anomaly import PluginContext, PluginDetector, Verdict
    from ..schemas import DetectionVerdict

__all__ = ["Detection", "SYNC_BATCH_LIMIT"]

# A new detector learns from at most this many of the latest stored samples (two weeks at a
# 5-minute step) before it judges live ones; replaying a longer backfill teaches it nothing new.
WARM_FROM_SAMPLES = 4032
# A new detector with a longer backlog learns it as a baseline in one pass, except the newest
# 24 hours, which are scored sample by sample so that today's anomalies become events (at a
# 5-minute step: 288 samples scored, the rest learnt ~20 times faster than scoring it).
SCORED_BACKLOG_SECONDS = 24 * 3600
# Batches up to this size are scored inside the request that brought them.
SYNC_BATCH_LIMIT = 100
# Dirty detector states are considered for saving this often (and saved at shutdown).
STATE_FLUSH_SECONDS = 30.0
# A detector's state (~0.6-0.8 MB of JSON for seven metrics) is saved once this many samples were
# scored since it was last saved, or once its unsaved scoring is this old; not after every batch.
# What a restart loses is replayed from the metrics table: a loaded state scores every stored
# sample after its last one, with the same verdicts and events (upserted by id, so nothing doubles).
# A learnt baseline and operator feedback are saved at once (neither is cheap to redo).
STATE_SAVE_SAMPLES = 48
STATE_SAVE_SECONDS = 300.0
# The background worker scores a backlog this many samples at a time, releasing the plugin's lock
# in between (a small push of that plugin is scored in its request meanwhile).
WORKER_CHUNK = 250
# While pushes keep arriving (one within PUSH_QUIET_SECONDS), the worker waits before its next
# chunk, at most WORKER_MAX_DEFER_SECONDS: a burst of large pushes is stored first and scored
# when it ends, instead of sharing the interpreter with it sample by sample (the worker's
# scoring had half of it and halved ingestion); the deferral bound keeps detection moving.
PUSH_QUIET_SECONDS = 0.05
WORKER_MAX_DEFER_SECONDS = 1.0
# A plugin's limits are re-read this often at most (a change made through this process is seen
# at once; one made through another API replica within this time).
CONTEXT_REFRESH_SECONDS = 60.0


class Detection(AcrossProcesses, EventViews):
    def __init__(
        self,
        *,
        metrics: MetricRecords,
        anomalies: AnomalyRecords,
        states: DetectorStates,
        plugins: PluginRecords,
        sensitivity: float,
        floors: Mapping[str, float] | None = None,
        memory_floor_fraction: float | None = None,
        shared_lock: Callable[[str], AbstractContextManager[None]] | None = None,
    ) -> None:
        self._metrics = metrics
        self._anomalies = anomalies
        self._states = states
        self._plugins = plugins
        self._sensitivity = sensitivity
        # What the detectors are told about each plugin (severity floors from the settings, the
        # plugin's registered limits): a PluginContext per plugin, rebuilt when they change.
        self._floors = dict(floors or {})
        self._memory_floor_fraction = memory_floor_fraction
        self._contexts: dict[str, tuple[float, PluginContext]] = {}
        self._detectors: dict[str, PluginDetector] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self._dirty: set[str] = set()
        self._unsaved: dict[str, int] = {}  # samples scored since the state was saved or loaded
        self._saved_at: dict[str, float] = {}  # time.monotonic() of that save or load
        self._must_save: set[str] = set()
        self._pending: set[str] = set()
        self._wake = threading.Event()
        self._last_push = 0.0  # time.monotonic() of the newest on_stored
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Set once the worker's start-up import is done: until then it holds the interpreter lock
        # for long stretches, so the process answers slowly and readiness says not yet.
        self.warmed_up = threading.Event()
        self.processing_ms: deque[float] = deque(maxlen=1000)
        # plugin -> (score, per-metric scores) of its newest scored sample in this process (/metrics)
        self.last_scores: dict[str, tuple[float, dict[str, float]]] = {}
        # Several processes score the same plugins (API replicas, workers): a plugin is scored
        # only under its lock across processes, from the state last saved by any of them.
        self._shared = shared_lock
        self._versions: dict[str, str | None] = {}  # plugin -> version of the saved state held
        self._holding = threading.local()

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="detection", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush_states()

    def _run(self) -> None:
        # Start-up cost, paid here off the request path: the multivariate IsolationForest's first
        # fit imports scikit-learn (~1 s), so the first live sample of a plugin does not wait for it.
        import sklearn.ensemble  # noqa: F401

        self.warmed_up.set()
        last_flush = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(timeout=STATE_FLUSH_SECONDS)
            self._wake.clear()
            with self._registry_lock:
                pending, self._pending = self._pending, set()
            for plugin_id in sorted(pending):
                if self._stop.is_set():  # shutting down: what is left is read from the store next time
                    break
                try:
                    self._catch_up(plugin_id)
                except Exception as exc:  # one plugin's failure must not stop detection for the rest
                    log_event(logging.ERROR, "detect_anomalies", f"detection failed: {exc!r}", plugin=plugin_id)
            if time.monotonic() - last_flush >= STATE_FLUSH_SECONDS:
                self.flush_states(force=False)
                last_flush = time.monotonic()

    # -- feeding -----------------------------------------------------------------------------

    def on_stored(self, plugin_id: str, rows: Sequence[tuple]) -> DetectionVerdict | None:
        """Called after ``rows`` (``METRIC_COLUMNS`` tuples, sorted) were committed: a small batch
        of a plugin whose detector is loaded is scored now, from the batch itself; the rest is
        handed to the worker, which reads what is new from the store."""
        self._last_push = time.monotonic()
        with self.serialised(plugin_id):
            if len(rows) <= SYNC_BATCH_LIMIT and plugin_id in self._detectors:
                verdicts = self._score_batch(plugin_id, rows)
                return verdict_summary(verdicts)
        with self._registry_lock:
            self._pending.add(plugin_id)
        self._wake.set()
        return None

    def _score_batch(self, plugin_id: str, rows: Sequence[tuple]) -> list[Verdict]:
        """Score a just-stored batch without reading it back, when the store holds nothing but the
        batch from what the detector has seen up to the batch's newest sample; otherwise catch up
        from the store."""
        started = time.perf_counter()
        with self._lock(plugin_id):
            detector = self._detector(plugin_id)
            last = detector.last_timestamp
            if last is None or plugin_id in self._pending:
                return self._process_locked(plugin_id, started)
            last_ms = int(last.timestamp() * 1000)
            fresh = [r for r in rows if r[0] > last_ms]
            if fresh and self._metrics.count_between(plugin_id, last_ms, fresh[-1][0]) != len(fresh):
                # another push landed before or among these samples and is not scored yet: the
                # store has it all
                return self._process_locked(plugin_id, started)
            events: dict[str, dict[str, Any]] = {}
            verdicts = self._score_rows(plugin_id, detector, fresh, events)
            self._anomalies.upsert(plugin_id, list(events.values()))
        self.processing_ms.append((time.perf_counter() - started) * 1000)
        return verdicts

    def _lock(self, plugin_id: str) -> threading.Lock:
        with self._registry_lock:
            lock = self._locks.get(plugin_id)
            if lock is None:
                lock = self._locks[plugin_id] = threading.Lock()
            return lock

    def _detector(self, plugin_id: str) -> PluginDetector:
        from ..anomaly import PluginDetector  # start-up cost: the engines load on first use

        detector = self._detectors.get(plugin_id)
        if detector is not None:
            return detector
        state = None
        try:
            state = self._states.load(plugin_id)
        except ModelIntegrityError as exc:
            log_event(logging.ERROR, "detect_anomalies", f"{exc.message}; starting a fresh detector", plugin=plugin_id)
        if state is not None:
            try:
                detector = PluginDetector.from_state(state)
            except Exception as exc:
                log_event(
                    logging.ERROR,
                    "detect_anomalies",
                    f"unreadable detector state ({exc}); starting fresh",
                    plugin=plugin_id,
                )
        if detector is None:
            detector = PluginDetector(sensitivity=self._sensitivity)
        self._detectors[plugin_id] = detector
        self._unsaved[plugin_id] = 0
        self._saved_at[plugin_id] = time.monotonic()
        return detector

    def _catch_up(self, plugin_id: str) -> None:
        """The worker's pass over one plugin: ``WORKER_CHUNK`` samples per turn of the plugin's lock,
        each turn after pushes paused (or ``WORKER_MAX_DEFER_SECONDS``)."""
        while not self._stop.is_set():
            deadline = time.monotonic() + WORKER_MAX_DEFER_SECONDS
            while time.monotonic() - self._last_push < PUSH_QUIET_SECONDS and time.monotonic() < deadline:
                time.sleep(PUSH_QUIET_SECONDS / 2)
            started = time.perf_counter()
            with self._lock(plugin_id):
                scored = self._process_locked(plugin_id, started, max_rows=WORKER_CHUNK)
            if len(scored) < WORKER_CHUNK:
                return

    def process(self, plugin_id: str, recent: Sequence[tuple] | None = None) -> list[Verdict]:
        """Score every stored sample newer than what the plugin's detector has seen. ``recent``:
        the plugin's newest stored rows (``METRIC_COLUMNS`` tuples, oldest first, up to its
        newest sample) as the caller read them already; used instead of reading the store again
        when they reach back to the detector's last sample."""
        started = time.perf_counter()
        with self.serialised(plugin_id), self._lock(plugin_id):
            return self._process_locked(plugin_id, started, recent=recent)

    def _process_locked(
        self,
        plugin_id: str,
        started: float,
        *,
        max_rows: int | None = None,
        recent: Sequence[tuple] | None = None,
    ) -> list[Verdict]:
        """Score what is new (the first ``max_rows`` samples of it, if given)."""
        detector = self._detector(plugin_id)
        learnt = False
        if recent and max_rows is None:
            if detector.last_timestamp is None and len(recent) >= WARM_FROM_SAMPLES:
                # the newest WARM_FROM_SAMPLES stored samples are the newest of ``recent``
                learnt = self._learn_backlog(plugin_id, detector, 0, rows=recent[-WARM_FROM_SAMPLES:])
            last = detector.last_timestamp
            if last is not None and recent[0][0] <= int(last.timestamp() * 1000):
                # Everything stored after the detector's last sample is in ``recent``: no second read.
                last_ms = int(last.timestamp() * 1000)
                events: dict[str, dict[str, Any]] = {}
                verdicts = self._score_rows(
                    plugin_id, detector, [r for r in recent if r[0] > last_ms], events, learnt=learnt
                )
                self._anomalies.upsert(plugin_id, list(events.values()))
                if learnt:
                    self._dirty.add(plugin_id)
                    self._must_save.add(plugin_id)
                self.processing_ms.append((time.perf_counter() - started) * 1000)
                return verdicts
        start_ms = 0
        if detector.last_timestamp is None:
            # fewer samples than WARM_FROM_SAMPLES: learn from all of them
            start_ms = self._metrics.nth_latest_ts(plugin_id, WARM_FROM_SAMPLES) or 0
            learnt = self._learn_backlog(plugin_id, detector, start_ms)
        if detector.last_timestamp is not None:
            start_ms = int(detector.last_timestamp.timestamp() * 1000) + 1
        verdicts: list[Verdict] = []
        events: dict[str, dict[str, Any]] = {}  # stored once, whatever the number of chunks
        for chunk in self._metrics.chunks(plugin_id, start_ms=start_ms, chunk=min(1000, max_rows or 1000)):
            if self._stop.is_set():
                break  # shutting down: the rest is scored after the restart, from the saved state
            verdicts.extend(self._score_rows(plugin_id, detector, chunk, events, learnt=learnt))
            if max_rows is not None and len(verdicts) >= max_rows:
                break
        self._anomalies.upsert(plugin_id, list(events.values()))
        if learnt:
            self._dirty.add(plugin_id)
            self._must_save.add(plugin_id)
        self.processing_ms.append((time.perf_counter() - started) * 1000)
        return verdicts

    def _score_rows(
        self,
        plugin_id: str,
        detector: PluginDetector,
        rows: Sequence[tuple],
        events: dict[str, dict[str, Any]],
        *,
        learnt: bool = False,
    ) -> list[Verdict]:
        """Score ``METRIC_COLUMNS`` rows newer than the detector's last sample as one block (exactly
        as sample by sample, several times faster); the events they open or change go in ``events``."""
        times, fresh = [], []
        last = detector.last_timestamp
        for row in rows:
            ts = datetime.fromtimestamp(row[0] / 1000, UTC)
            if last is None or ts > last:  # (not after the last scored sample: already judged)
                times.append(ts)
                fresh.append(row)
                last = ts
        detector.use_context(self.context(plugin_id))

        def judged(verdict: Verdict) -> None:
            if verdict.event is not None:
                events[verdict.event.event_id] = event_row(verdict.event)
            if verdict.alert:
                event = verdict.event
                level = logging.WARNING if event.severity.value == "High" else logging.INFO
                log_event(
                    level,
                    "detect_anomalies",
                    f"anomaly opened: {event.explanation}",
                    plugin=plugin_id,
                    severity=event.severity.value,
                    event=event.event_id,
                )

        values = {m: [row[i] for row in fresh] for i, m in enumerate(METRIC_NAMES, start=1)}
        verdicts = detector.update_many(times, values, on_verdict=judged)
        if verdicts:
            self.last_scores[plugin_id] = (float(verdicts[-1].score), dict(verdicts[-1].metric_scores))
        if verdicts or learnt:
            self._dirty.add(plugin_id)
            self._unsaved[plugin_id] = self._unsaved.get(plugin_id, 0) + len(verdicts)
        return verdicts

    def _learn_backlog(
        self, plugin_id: str, detector: PluginDetector, start_ms: int, *, rows: Sequence[tuple] | None = None
    ) -> bool:
        """A fresh detector learns the stored backlog up to its newest 24 hours in one pass.

        Returns whether it did; a backlog too short to pass warm-up is left to be streamed.
        """
        if detector.samples:
            return False
        if rows is None:
            rows = self._metrics.rows(plugin_id, start_ms=start_ms)
        if not rows:
            return False
        cutoff = rows[-1][0] - SCORED_BACKLOG_SECONDS * 1000
        history = [r for r in rows if r[0] <= cutoff]
        if len(history) < detector.warmup:
            return False
        times = [datetime.fromtimestamp(r[0] / 1000, UTC) for r in history]
        metrics = {name: [r[i] for r in history] for i, name in enumerate(METRIC_NAMES, start=1)}
        detector.learn_history(times, metrics)
        return True

    def flush_states(self, *, force: bool = True) -> None:
        """Save changed detector states: all of them (``force``: shutdown, feedback), or only those
        due by ``STATE_SAVE_SAMPLES`` / ``STATE_SAVE_SECONDS`` (or holding a new baseline or feedback)."""
        if self._shared is not None:
            return  # shared: every state is saved before its plugin's lock is released
        now = time.monotonic()
        for plugin_id in list(self._dirty):
            detector = self._detectors.get(plugin_id)
            if detector is None:
                continue
            due = (
                force
                or plugin_id in self._must_save
                or self._unsaved.get(plugin_id, 0) >= STATE_SAVE_SAMPLES
                or now - self._saved_at.get(plugin_id, now) >= STATE_SAVE_SECONDS
            )
            if not due:
                continue
            with self._lock(plugin_id):
                self._dirty.discard(plugin_id)
                self._must_save.discard(plugin_id)
                last = detector.last_timestamp
                self._states.save(plugin_id, detector.to_state(), int(last.timestamp() * 1000) if last else None)
                self._unsaved[plugin_id] = 0
                self._saved_at[plugin_id] = time.monotonic()

    def forget(self, plugin_id: str) -> None:
        """Drop the plugin's detector from memory, unsaved scoring included (replayed from the
        metrics table when it is loaded again)."""
        with self._lock(plugin_id):
            self._detectors.pop(plugin_id, None)
            self._versions.pop(plugin_id, None)
            self._dirty.discard(plugin_id)
            self._must_save.discard(plugin_id)
            self._unsaved.pop(plugin_id, None)
            self._saved_at.pop(plugin_id, None)
        self.limits_changed(plugin_id)

    # -- what the detector is told about a plugin ---------------------------------------------

    def context(self, plugin_id: str) -> PluginContext:
        """The plugin's limits (its registration) and the severity floors (the settings), as the
        engine's immutable ``PluginContext``; re-read after ``limits_changed`` or after
        ``CONTEXT_REFRESH_SECONDS``."""
        cached = self._contexts.get(plugin_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < CONTEXT_REFRESH_SECONDS:
            return cached[1]
        from ..anomaly import PluginContext  # start-up cost: the engines load on first use

        row = self._plugins.get(plugin_id) or {}
        extra = {} if self._memory_floor_fraction is None else {"memory_floor_fraction": self._memory_floor_fraction}
        context = PluginContext(
            cpu_limit_percent=row.get("cpu_limit_percent") or None,
            memory_limit_mb=row.get("memory_limit_mb") or None,
            floors=self._floors,
            **extra,
        )
        self._contexts[plugin_id] = (now, context)
        return context

    def limits_changed(self, plugin_id: str) -> None:
        """The plugin's registration changed (or it is gone): its next samples are judged against
        the limits stored now."""
        self._contexts.pop(plugin_id, None)

    # -- what the faces ask ------------------------------------------------------------------

    def detect_now(self, plugin_id: str, recent: Sequence[tuple] | None = None) -> DetectionResult:
        """Bring the plugin's detector up to date and report where it stands (``recent``: as
        for ``process``)."""
        self._plugins.require(plugin_id)
        with self.serialised(plugin_id):
            verdicts = self.process(plugin_id, recent)
            detector = self._detector(plugin_id)
        open_events = self.history(plugin_id, state="open", limit=100)
        last = verdicts[-1] if verdicts else None
        if detector.warming_up:
            status = f"warming up: need {detector.warmup - detector.samples} more samples"
        else:
            status = "anomalous" if open_events else "normal"
        return DetectionResult(
            plugin_id=plugin_id,
            status=status,
            samples_seen=detector.samples,
            scored_now=len(verdicts),
            last_sample=detector.last_timestamp.isoformat() if detector.last_timestamp else None,
            score=last.score if last else None,
            metric_scores=last.metric_scores if last else {},
            alert_threshold=detector.alert_threshold,
            open_anomalies=open_events,
        )

    def feedback(self, plugin_id: str, event_id: str, label: str) -> AnomalyEvent:
        """Operator verdict: a false alarm suppresses later events of the same shape for this plugin."""
        if label not in ("false_alarm", "confirmed"):
            raise ValidationError("label must be 'false_alarm' or 'confirmed'", field="label")
        from ..anomaly import EventShape  # start-up cost: the engines load on first use

        row = self._anomalies.get(plugin_id, event_id)
        shape = EventShape.from_dict(row["explanation"]["shape"])
        with self.serialised(plugin_id), self._lock(plugin_id):
            self._detector(plugin_id).record_feedback(shape, label)  # type: ignore[arg-type]
            self._dirty.add(plugin_id)
            self._must_save.add(plugin_id)
        self._anomalies.set_feedback(plugin_id, event_id, label)
        self.flush_states()
        log_event(logging.INFO, "anomaly_feedback", f"marked {label}", plugin=plugin_id, event=event_id)
        return public_event(self._anomalies.get(plugin_id, event_id))

    @property
    def loaded_count(self) -> int:
        """Plugins whose detector is in memory."""
        return len(self._detectors)

    def scoring_times_ms(self) -> list[float]:
        """Recent durations of scoring passes (one per push or worker pass), sorted."""
        return sorted(self.processing_ms)
