"""The per-plugin streaming detector: one call per sample, a verdict back, events opened and closed.

It owns the metric ensembles, the multivariate IsolationForest, the fusion into one score, the
event rules (open, extend, debounce, recover), severity, recommended actions and operator
feedback, and serialises all of it to a JSON-safe dict so it survives restarts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..errors import ValidationError
from .actions import diagnose, steady_climb
from .block import CalibratorSteps, ChannelSteps, supports_block
from .calibration import SURPRISE_DECADES, TailCalibrator
from .channel import MAX_SURPRISE, MetricChannel, MetricReading
from .events import Event, EventShape, MetricEvidence, Severity, Verdict, severity_of
from .feedback import FeedbackLabel, FeedbackMemory
from .isolation import IsolationForestDetector

__all__ = ["PluginDetector", "STATE_VERSION"]

# 2: histories as base64 float64, shared discord history stored once; 3: previous sample's score
# (a marginal breach is confirmed by the next sample)
STATE_VERSION = 3
WARMUP_SAMPLES = 150  # enough for the calibrators to have seen 100 scores of each detector
COOLDOWN_SAMPLES = 100  # after an alert, anomalies this close are the same incident
RECOVERY_SAMPLES = 12  # an event closes after this many calm samples in a row
# A breach at least this many decades rarer than the alert threshold alerts on its own sample;
# a marginal one (between the two) must be confirmed by the next sample (see ``_judge``).
IMMEDIATE_DECADES = 1.0
_MAX_GAP_FILL = 2016  # never impute more than a week of 5-minute samples for one gap
# Runs shorter than this go through ``update``: a block's set-up (sorting each metric's windows)
# costs about what scoring a few samples one by one does.
_MIN_BLOCK = 8

# Feedback matches events on a coarse kind: which detector happened to carry a CPU jump
# (seasonal baseline or novelty) is noise to an operator; "a jump", "a new level" or "a climb" is not.
_SHAPE_KIND = {"level shift": "shift", "sustained deviation": "shift", "steady climb": "trend"}

_KIND_OF_DETECTOR = {
    "discord1": "spike",
    "discord8": "pattern change",
    "level_shift": "level shift",
    "seasonal": "seasonal deviation",
    "sustained": "sustained deviation",
    "isolation_forest": "unusual combination",
}


def alert_threshold_for(sensitivity: float) -> float:
    """The 0-1 score at which a sample opens an event.

    ``sensitivity`` (``ANOMALY_DETECTION_SENSITIVITY``, 0.1 by default; also the IsolationForest
    contamination) scales the tail probability that alerts: p <= sensitivity / 1000. At 0.1 a
    sample must be rarer than 1 in 10 000, i.e. a score of 0.4.
    """
    if not 0.0 < sensitivity <= 1.0:
        raise ValidationError("sensitivity must be in (0, 1]", field="sensitivity")
    return (3.0 - math.log10(sensitivity)) / SURPRISE_DECADES


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return v is None
    return True


def _sample(columns: Mapping[str, np.ndarray], i: int) -> dict[str, float | None]:
    """Sample ``i`` of validated columns, as ``update`` takes it."""
    return {name: (None if math.isnan(col[i]) else float(col[i])) for name, col in columns.items()}


def _as_utc(ts: datetime) -> datetime:
    if not isinstance(ts, datetime):
        raise ValidationError(f"timestamp must be a datetime, not {type(ts).__name__}", field="timestamp")
    ts = ts.to_pydatetime() if hasattr(ts, "to_pydatetime") else ts
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


class PluginDetector:
    """Streaming anomaly detection for one plugin.

    >>> from datetime import datetime, timedelta
    >>> det = PluginDetector()
    >>> t0 = datetime(2026, 1, 1)
    >>> v = det.update(t0, {"cpu_percent": 12.0})
    >>> v.warming_up, v.message
    (True, 'warming up: need 149 more samples')
    """

    def __init__(
        self,
        sensitivity: float = 0.1,
        *,
        warmup: int = WARMUP_SAMPLES,
        cooldown: int = COOLDOWN_SAMPLES,
        recovery: int = RECOVERY_SAMPLES,
    ) -> None:
        self.sensitivity = float(sensitivity)
        self.alert_threshold = alert_threshold_for(self.sensitivity)
        # Hysteresis: an open event keeps absorbing samples at half the opening threshold.
        self.close_threshold = self.alert_threshold / 2.0
        # One decade rarer than the alert threshold: strong enough to alert on one sample.
        self.immediate_threshold = self.alert_threshold + IMMEDIATE_DECADES / SURPRISE_DECADES
        self.warmup = int(warmup)
        self.cooldown = int(cooldown)
        self.recovery = int(recovery)
        self.channels: dict[str, MetricChannel] = {}
        self.forest: IsolationForestDetector | None = None
        self.forest_metrics: list[str] = []
        self.forest_calibrator = TailCalibrator(1000, 100)
        self.feedback = FeedbackMemory()
        self.samples = 0
        self.last_timestamp: datetime | None = None
        self.step_seconds: float | None = None
        self.period: int | None = None  # samples per day, once known
        self._steps: list[float] = []
        self.event: Event | None = None  # the open event, or the last one while cooling down
        self._since_open = 10**9
        self._calm = 0
        self._events_opened = 0
        self._prev_score = 0.0  # the previous sample's score (confirms or not a marginal breach)

    # ------------------------------------------------------------------ public

    @property
    def warming_up(self) -> bool:
        return self.samples < self.warmup

    def update(self, timestamp: datetime, values: dict[str, float | None]) -> Verdict:
        """Score one sample on arrival, then learn it; open, extend or close events.

        ``timestamp`` must be later than the previous one (the service deduplicates resends).
        A value of None, NaN or inf means "missing" for that metric.
        """
        ts = _as_utc(timestamp)
        if self.last_timestamp is not None and ts <= self.last_timestamp:
            raise ValidationError(
                f"timestamp {ts.isoformat()} is not after the previous sample {self.last_timestamp.isoformat()}",
                field="timestamp",
            )
        clean = self._clean(values)
        self._note_gap(ts)
        self.samples += 1

        readings: dict[str, MetricReading] = {}
        for name, x in clean.items():
            if x is None:
                if name in self.channels:
                    self.channels[name].skip()
                continue
            channel = self.channels.get(name)
            if channel is None:
                channel = self.channels[name] = MetricChannel(self.period)
            readings[name] = channel.update(x)
        for name, channel in self.channels.items():
            if name not in clean:
                channel.skip()

        forest_surprise = self._forest_update(ts)
        if self.samples == self.warmup:
            self._finish_warmup()
        if self.samples <= self.warmup:
            left = self.warmup - self.samples
            message = f"warming up: need {left} more samples" if left else "warming up: scoring starts next"
            return Verdict(ts, 0.0, 0.0, {}, False, False, None, warming_up=True, message=message)
        return self._fuse(ts, readings, clean, forest_surprise)

    def update_many(
        self,
        timestamps: Sequence[datetime],
        values_by_metric: Mapping[str, Sequence[float | None]],
        on_verdict: Callable[[Verdict], None] | None = None,
    ) -> list[Verdict]:
        """``update`` of each sample in turn, for much less work: the same verdicts, events and
        final state, to the bit.

        ``timestamps`` (increasing, after the last sample seen) and, per metric, one value per
        timestamp (None, NaN or inf: missing), i.e. ``update(timestamps[i], {name: column[i]})``
        for each i. Everything is validated before anything is learnt: a bad timestamp or value
        raises ``ValidationError`` and leaves the detector as it was. Runs of samples past
        warm-up that bring no new metric are scored as a block (see ``block.py``); warm-up
        samples, the sample that brings a new metric and short runs go through ``update``.

        A verdict's ``event`` is the live event, which later samples may extend or close;
        ``on_verdict`` is called with each verdict as it is made, for whatever must be read
        from the event as it stood at that sample.
        """
        times, columns = self._block_arguments(timestamps, values_by_metric)
        if times and self.last_timestamp is not None and times[0] <= self.last_timestamp:
            raise ValidationError(
                f"timestamp {times[0].isoformat()} is not after the previous sample {self.last_timestamp.isoformat()}",
                field="timestamp",
            )
        verdicts: list[Verdict] = []
        i, n = 0, len(times)
        while i < n:
            end = self._block_end(columns, i, n)
            if end - i < _MIN_BLOCK:
                for k in range(i, max(end, i + 1)):
                    verdicts.append(self.update(times[k], _sample(columns, k)))
                    if on_verdict is not None:
                        on_verdict(verdicts[-1])
                i = max(end, i + 1)
            else:
                verdicts.extend(self._update_block(times, columns, i, end, on_verdict))
                i = end
        return verdicts

    def learn_history(self, timestamps: Sequence[datetime], metrics: Mapping[str, Sequence[float | None]]) -> None:
        """Learn a baseline from a block of past samples without judging them one by one.

        ``timestamps`` (increasing) and, per metric, one value per timestamp (None, NaN or inf:
        missing). Afterwards the detector is where streaming these samples through ``update``
        would have left it, except that it raised no events: the same histories (missing samples
        and gaps imputed the same way), the same sampling step, daily period and forest trees,
        and calibrators holding raw scores computed at ~1000 positions instead of all of them.
        A detector that has already seen samples, or a block shorter than the warm-up, simply
        streams the samples (verdicts discarded).
        """
        times, columns = self._block_arguments(timestamps, metrics)
        if self.samples > 0 or len(times) < self.warmup:
            for i, ts in enumerate(times):
                self.update(ts, _sample(columns, i))
            return
        self._learn_block(times, columns)

    def _block_arguments(
        self, timestamps: Sequence[datetime], metrics: Mapping[str, Sequence[float | None]]
    ) -> tuple[list[datetime], dict[str, np.ndarray]]:
        """Validated block of samples: UTC timestamps, strictly increasing, and per metric a float
        column (NaN where missing), each value converted as ``update`` converts it."""
        times = [_as_utc(ts) for ts in timestamps]
        columns: dict[str, np.ndarray] = {}
        for name, column in metrics.items():
            if len(column) != len(times):
                raise ValidationError(f"{name} has {len(column)} values for {len(times)} timestamps", field=name)
            try:
                col = np.array(column, dtype=float)
            except (TypeError, ValueError):  # name the offending value the way update() does
                self._clean(dict.fromkeys([name], next(v for v in column if not _is_number(v))))
                raise
            col[~np.isfinite(col)] = math.nan
            columns[name] = col
        for a, b in zip(times, times[1:], strict=False):
            if b <= a:
                raise ValidationError(f"timestamp {b.isoformat()} is not after {a.isoformat()}", field="timestamp")
        return times, columns

    def _block_end(self, columns: dict[str, np.ndarray], i: int, n: int) -> int:
        """End of the run of samples from ``i`` that ``_update_block`` can score: past warm-up, no
        sample bringing a metric without a channel yet. ``i`` itself when sample i is not one."""
        if self.samples < self.warmup or not all(supports_block(ch) for ch in self.channels.values()):
            return i
        end = n
        for name, col in columns.items():
            if name not in self.channels:
                present = np.flatnonzero(~np.isnan(col[i:end]))
                if len(present):
                    end = i + int(present[0])
        return end

    def _update_block(
        self,
        times: list[datetime],
        columns: dict[str, np.ndarray],
        i: int,
        end: int,
        on_verdict: Callable[[Verdict], None] | None = None,
    ) -> list[Verdict]:
        """``update`` of samples ``i..end-1``, all past warm-up and with a channel for every metric
        they bring: the same sequence of operations, through ``ChannelSteps``."""
        steps = {}
        for name, channel in self.channels.items():
            col = columns.get(name)
            values = col[i:end][~np.isnan(col[i:end])] if col is not None else np.empty(0)
            steps[name] = ChannelSteps(channel, values)
        never_sent = [st for name, st in steps.items() if name not in columns]
        lists = {name: col[i:end].tolist() for name, col in columns.items()}
        forest = self.forest
        rows: list[list[float]] = []
        if forest is not None:
            forest_steps = CalibratorSteps(self.forest_calibrator)
            last = {name: self.channels[name].last_value for name in self.forest_metrics}
            for k, ts in enumerate(times[i:end]):
                for name in self.forest_metrics:
                    v = lists[name][k] if name in lists else math.nan
                    if v == v:  # not NaN: the channel's last value is now this one
                        last[name] = v
                row = [0.0 if last[name] is None else last[name] for name in self.forest_metrics]
                rows.append([*row, ts.hour + ts.minute / 60.0])
        raws: list[float] = []
        raws_from = scored_until = 0
        verdicts = []
        for k in range(end - i):
            ts = times[i + k]
            self._note_gap(ts, steps.values())
            self.samples += 1
            readings: dict[str, MetricReading] = {}
            clean: dict[str, float | None] = {}
            for name, col in lists.items():
                v = col[k]
                if v != v:  # NaN: missing
                    clean[name] = None
                    if name in steps:
                        steps[name].skip()
                    continue
                clean[name] = v
                readings[name] = steps[name].update(v)
            for st in never_sent:
                st.skip()
            forest_surprise = None
            if forest is not None:
                if forest.ready:
                    if k >= scored_until:  # rows up to the next refit, scored with the current trees
                        raws_from, scored_until = k, self._next_refit(forest, k, end - i)
                        previous = [forest._rows[-1] if forest._rows else rows[k], *rows[k : scored_until - 1]]
                        raws = forest.score_each(np.array(rows[k:scored_until]), np.array(previous))
                    forest_surprise = min(forest_steps.step(raws[k - raws_from]), MAX_SURPRISE)
                forest.learn_one(rows[k])
            verdicts.append(self._fuse(ts, readings, clean, forest_surprise))
            if on_verdict is not None:
                on_verdict(verdicts[-1])
        return verdicts

    @staticmethod
    def _next_refit(forest: IsolationForestDetector, k: int, end: int) -> int:
        """One past the sample (from ``k``, before ``end``) whose learning refits the forest."""
        since_fit, rows = forest._since_fit, len(forest._rows)
        while k < end:
            since_fit += 1
            rows = min(rows + 1, forest.window)
            k += 1
            if since_fit >= forest.refit_every and rows >= min(forest.window, 64):
                break
        return k

    def _learn_block(self, times: list[datetime], columns: dict[str, np.ndarray]) -> None:
        n, warmup = len(times), self.warmup
        deltas = np.array([(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)])
        # The same step and period streaming infers at the end of warm-up.
        self._steps = [float(d) for d in deltas[: warmup - 1]]
        self._finish_warmup_step()
        period = self.period
        # Streaming imputes the samples missing in a gap (once the step is known): each sample
        # after warm-up is preceded by that many imputed seasonal slots.
        gap_slots = np.zeros(n, dtype=int)
        if self.step_seconds:
            later = deltas[warmup - 1 :]
            fill = np.where(
                later > 1.5 * self.step_seconds, np.minimum(np.rint(later / self.step_seconds) - 1, _MAX_GAP_FILL), 0
            )
            gap_slots[warmup:] = fill.astype(int)
        born_before: list[str] = []
        for name, col in columns.items():
            present = ~np.isnan(col)
            if not present.any():
                continue
            first = int(np.argmax(present))
            values = col[present]
            if first < warmup:
                born_before.append(name)
            channel = self.channels[name] = MetricChannel(period)
            slots = slot_of_update = None
            if period is not None:
                # The seasonal baseline's slots: seeded at the end of warm-up with the values so
                # far (born before) or starting at the metric's first value (born after), then one
                # slot per sample and per imputed gap sample.
                start = max(first, warmup)
                seed = int(present[:start].sum()) if first < warmup else 0
                per_sample = 1 + gap_slots[start:]
                per_sample[0] = 1 if first >= warmup else per_sample[0]
                offsets = seed + np.cumsum(per_sample) - 1
                slots = np.full(seed + int(per_sample.sum()), np.nan)
                slots[:seed] = values[:seed]
                slots[offsets] = col[start:]
                slot_of_update = np.full(len(values), -1)
                slot_of_update[seed:] = offsets[present[start:]]
            channel.learn_history(values, slots, slot_of_update)
        self.samples = n
        self.last_timestamp = times[-1]
        self._steps = []
        self.forest_metrics = sorted(born_before)
        if len(self.forest_metrics) >= 2:
            self.forest = IsolationForestDetector(
                n_features=len(self.forest_metrics) + 1, contamination=min(0.5, self.sensitivity)
            )
            self._learn_forest(times, columns)

    def _learn_forest(self, times: list[datetime], columns: dict[str, np.ndarray]) -> None:
        """The forest's rows, trees and calibrator as streaming would have them: the same rows
        (last values carried over missing ones), the same last fit (same rows, same seed), and
        the calibrator filled with the current trees' scores of rows they were not fitted on."""
        forest = self.forest
        assert forest is not None
        first_row = self.warmup  # the forest exists from the sample after warm-up on
        carried = []
        for name in self.forest_metrics:
            col = columns[name]
            idx = np.where(~np.isnan(col), np.arange(len(col)), -1)
            idx = np.maximum.accumulate(idx)
            carried.append(np.where(idx >= 0, col[np.maximum(idx, 0)], 0.0)[first_row:])
        hours = [ts.hour + ts.minute / 60.0 for ts in times[first_row:]]
        rows = np.column_stack([*carried, hours])
        count = len(rows)
        fits = count // forest.refit_every
        as_lists = rows.tolist()
        if fits:
            fit_end = fits * forest.refit_every
            forest._rows = as_lists[max(0, fit_end - forest.window) : fit_end]
            forest._fits = fits - 1
            forest._fit()
            since_first_fit = count - forest.refit_every  # rows scored once the first trees existed
            # Out-of-sample rows for the calibrator: the newest ones scored by streaming, minus
            # the rows the current trees were fitted on.
            candidates = [r for r in range(forest.refit_every, count) if not (fit_end - forest.window <= r < fit_end)][
                -self.forest_calibrator.capacity :
            ]
            if candidates:
                chosen = np.array(candidates)
                raws = forest.score_rows(rows[chosen], rows[np.maximum(chosen - 1, 0)])
                self.forest_calibrator.learn_many(raws, since_first_fit)
        forest._rows = as_lists[-forest.window :]
        forest._since_fit = count - fits * forest.refit_every
        forest._fits = fits

    def record_feedback(self, shape: EventShape, label: FeedbackLabel) -> None:
        """Operator verdict on an event (use ``event.shape``): false alarms of that shape are suppressed."""
        self.feedback.record(shape, label)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _clean(values: dict[str, float | None]) -> dict[str, float | None]:
        clean: dict[str, float | None] = {}
        for name, v in values.items():
            if v is None:
                clean[name] = None
                continue
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise ValidationError(f"{name} must be a number, not {v!r}", field=name) from None
            clean[name] = f if math.isfinite(f) else None
        return clean

    def _note_gap(self, ts: datetime, channels: Iterable[MetricChannel | ChannelSteps] | None = None) -> None:
        if self.last_timestamp is not None:
            delta = (ts - self.last_timestamp).total_seconds()
            if self.step_seconds is None:
                self._steps.append(delta)
            elif delta > 1.5 * self.step_seconds:
                # Missing samples: keep the seasonal baselines' phase aligned with the clock.
                missing = min(int(round(delta / self.step_seconds)) - 1, _MAX_GAP_FILL)
                targets = list(self.channels.values() if channels is None else channels)
                for _ in range(missing):
                    for channel in targets:
                        channel.skip()
        self.last_timestamp = ts

    def _finish_warmup_step(self) -> None:
        """The sampling step (median interval during warm-up) and the samples per day from it."""
        if self._steps:
            self.step_seconds = float(np.median(self._steps))
        self._steps = []
        if self.step_seconds and self.step_seconds > 0:
            per_day = int(round(86400.0 / self.step_seconds))
            if per_day >= 4:
                self.period = per_day

    def _finish_warmup(self) -> None:
        self._finish_warmup_step()
        if self.period is not None:
            for channel in self.channels.values():
                channel.enable_seasonal(self.period)
        self.forest_metrics = sorted(self.channels)
        # The forest is the cross-metric detector: with a single metric the per-metric ensemble
        # already covers it, and adding it measurably only adds false alarms (NAB 58.8 -> 53.7).
        if len(self.forest_metrics) >= 2:
            self.forest = IsolationForestDetector(
                n_features=len(self.forest_metrics) + 1, contamination=min(0.5, self.sensitivity)
            )

    def _forest_row(self, ts: datetime) -> list[float]:
        row = []
        for name in self.forest_metrics:
            last = self.channels[name].last_value
            row.append(0.0 if last is None else last)  # carry the last value over a missing one
        row.append(ts.hour + ts.minute / 60.0)
        return row

    def _forest_update(self, ts: datetime) -> float | None:
        if self.forest is None:
            return None
        row = self._forest_row(ts)
        surprise = None
        if self.forest.ready:
            raw = self.forest.score_one(row)
            surprise = min(self.forest_calibrator.surprise(raw), MAX_SURPRISE)
            self.forest_calibrator.learn_one(raw)
        self.forest.learn_one(row)
        return surprise

    def _evidence(self, name: str, reading: MetricReading, observed: float, score: float) -> MetricEvidence:
        direction = "pattern"
        if reading.expected is not None and reading.upper is not None and reading.lower is not None:
            sigma = max((reading.upper - reading.expected) / 3.0, 1e-12)
            if observed > reading.upper or (observed - reading.expected) > sigma:
                direction = "up"
            elif observed < reading.lower or (reading.expected - observed) > sigma:
                direction = "down"
        return MetricEvidence(
            name, observed, reading.expected, reading.lower, reading.upper, score, reading.detector, direction
        )

    def _memory_climbing(self) -> bool:
        channel = self.channels.get("memory_mb")
        return channel is not None and steady_climb(channel.history(36))

    def _fuse(
        self,
        ts: datetime,
        readings: dict[str, MetricReading],
        clean: dict[str, float | None],
        forest_surprise: float | None,
    ) -> Verdict:
        """The sample's score from its metrics' surprises and the forest's, then the event rules."""
        metric_scores = {m: min(1.0, r.surprise / SURPRISE_DECADES) for m, r in readings.items()}
        surprises = [r.surprise for r in readings.values()]
        if forest_surprise is not None:
            surprises.append(forest_surprise)
        fused = max(surprises) - math.log10(len(surprises)) if surprises else 0.0
        score = min(1.0, max(0.0, fused) / SURPRISE_DECADES)
        return self._judge(ts, score, metric_scores, readings, clean, forest_surprise)

    def _judge(
        self,
        ts: datetime,
        score: float,
        metric_scores: dict[str, float],
        readings: dict[str, MetricReading],
        values: dict[str, float | None],
        forest_surprise: float | None,
    ) -> Verdict:
        anomalous = score >= self.alert_threshold
        # Evidence for a *new* incident. One sample one decade rarer than the alert threshold is
        # enough on its own; a marginal breach (rarer than the threshold, not that rare) must
        # persist: it alerts on the next sample if that one is still at the hysteresis level
        # (half the threshold): min(previous, 2 x current) >= threshold says exactly that. Isolated
        # marginal samples are the bulk of false alarms; the cost is one sample of delay for
        # marginal incidents (measured: NAB 73.7 -> 75.1, alerts outside windows 58% -> 52%).
        corroborated = min(self._prev_score, score * self.alert_threshold / self.close_threshold)
        evidence = max(score if score >= self.immediate_threshold else 0.0, corroborated)
        self._prev_score = score
        opens = evidence >= self.alert_threshold
        involved = [m for m, s in metric_scores.items() if s >= self.close_threshold]
        if not involved and metric_scores:
            involved = [max(metric_scores, key=metric_scores.__getitem__)]
        event, alert, closed = self.event, False, False
        # Debounce: within the cool-down of the last alert, an anomaly on a metric of that event
        # is the same incident flaring again; one on other metrics is a new incident.
        same_incident = (
            event is not None
            and not event.is_open
            and self._since_open < self.cooldown
            and bool(set(involved) & set(event.metrics))
        )
        fresh = event is None or (not event.is_open and not same_incident)
        incident_score = evidence if fresh else 0.0

        if event is not None and event.is_open:
            if score >= self.close_threshold:
                self._extend(event, ts, score, involved, metric_scores, readings, values)
                self._calm = 0
            else:
                self._calm += 1
                if self._calm >= self.recovery:
                    event.is_open, closed = False, True
        elif (anomalous or opens) and same_incident and event is not None:
            # (``opens`` without ``anomalous``: a confirmation that involves the last event's
            # metrics is that incident again, not a new alert.)
            event.is_open = True
            self._calm = 0
            self._extend(event, ts, score, involved, metric_scores, readings, values)
        elif opens:
            opening = max(score, evidence)
            event = self._open(ts, opening, involved, metric_scores, readings, values, forest_surprise)
            alert = not event.suppressed
            if event.suppressed:
                incident_score = 0.0
        self._since_open += 1
        shown = event if event is not None and (event.is_open or closed) else None
        return Verdict(ts, score, incident_score, metric_scores, anomalous, alert, shown, closed=closed)

    def _open(
        self,
        ts: datetime,
        score: float,
        involved: list[str],
        metric_scores: dict[str, float],
        readings: dict[str, MetricReading],
        values: dict[str, float | None],
        forest_surprise: float | None,
    ) -> Event:
        evidence = {
            m: self._evidence(m, readings[m], float(values[m]), metric_scores[m])  # type: ignore[arg-type]
            for m in involved
        }
        top = max(involved, key=metric_scores.__getitem__) if involved else None
        detector = readings[top].detector if top else "isolation_forest"
        if forest_surprise is not None and top and forest_surprise > readings[top].surprise:
            detector = "isolation_forest"
        kind = _KIND_OF_DETECTOR.get(detector, detector)
        direction = evidence[top].direction if top else "pattern"
        if kind == "spike" and direction == "down":
            kind = "dip"
        memory_climbing = self._memory_climbing()
        if memory_climbing:
            kind = "steady climb"
        self._events_opened += 1
        self._since_open = 0
        self._calm = 0
        shape = EventShape(
            metrics=tuple(sorted(involved)),
            kind=_SHAPE_KIND.get(kind, "deviation"),
            direction=direction,
            magnitude=EventShape.magnitude_of(score),
        )
        event = Event(
            event_id=f"{ts.strftime('%Y%m%dT%H%M%SZ')}-{self._events_opened}",
            start=ts,
            end=ts,
            metrics=list(involved),
            kind=kind,
            peak_score=score,
            peak_at=ts,
            severity=Severity.LOW,  # set by the rule below, once the event exists
            evidence=evidence,
            diagnosis=diagnose(evidence, memory_climbing),
            shape=shape,
            suppressed=self.feedback.suppresses(shape),
            moved_together=list(involved),
        )
        event.severity = severity_of(event)
        self.event = event
        return event

    def _extend(
        self,
        event: Event,
        ts: datetime,
        score: float,
        involved: list[str],
        metric_scores: dict[str, float],
        readings: dict[str, MetricReading],
        values: dict[str, float | None],
    ) -> None:
        event.end = ts
        event.samples += 1
        if score > event.peak_score:
            event.peak_score, event.peak_at = score, ts
        changed = False
        for m in involved:
            if m not in event.metrics:
                event.metrics.append(m)
            if m not in event.evidence or metric_scores[m] > event.evidence[m].score:
                event.evidence[m] = self._evidence(m, readings[m], float(values[m]), metric_scores[m])  # type: ignore[arg-type]
                changed = True
        if len(involved) > len(event.moved_together):
            event.moved_together = list(involved)
        if changed:
            event.diagnosis = diagnose(event.evidence, self._memory_climbing())
        event.severity = severity_of(event)

    # ------------------------------------------------------------------ state

    def to_state(self) -> dict[str, Any]:
        """Everything needed to resume exactly where this detector is, as JSON-safe data."""
        return {
            "version": STATE_VERSION,
            "sensitivity": self.sensitivity,
            "warmup": self.warmup,
            "cooldown": self.cooldown,
            "recovery": self.recovery,
            "channels": {name: ch.to_state() for name, ch in self.channels.items()},
            "forest": self.forest.to_state() if self.forest is not None else None,
            "forest_metrics": list(self.forest_metrics),
            "forest_calibrator": self.forest_calibrator.to_state(),
            "feedback": self.feedback.to_state(),
            "samples": self.samples,
            "last_timestamp": self.last_timestamp.isoformat() if self.last_timestamp else None,
            "step_seconds": self.step_seconds,
            "period": self.period,
            "steps": list(self._steps),
            "event": self.event.to_dict() if self.event is not None else None,
            "since_open": min(self._since_open, 10**9),
            "calm": self._calm,
            "events_opened": self._events_opened,
            "prev_score": self._prev_score,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PluginDetector:
        if state.get("version") != STATE_VERSION:
            version = state.get("version")
            raise ValidationError(f"unsupported detector state version {version!r}", field="state")
        det = cls(
            state["sensitivity"],
            warmup=state["warmup"],
            cooldown=state["cooldown"],
            recovery=state["recovery"],
        )
        det.channels = {name: MetricChannel.from_state(ch) for name, ch in state["channels"].items()}
        det.forest = IsolationForestDetector.from_state(state["forest"]) if state["forest"] else None
        det.forest_metrics = list(state["forest_metrics"])
        det.forest_calibrator = TailCalibrator.from_state(state["forest_calibrator"])
        det.feedback = FeedbackMemory.from_state(state["feedback"])
        det.samples = int(state["samples"])
        last = state["last_timestamp"]
        det.last_timestamp = datetime.fromisoformat(last) if last else None
        det.step_seconds = state["step_seconds"]
        det.period = state["period"]
        det._steps = [float(s) for s in state["steps"]]
        det.event = Event.from_dict(state["event"]) if state["event"] else None
        det._since_open = int(state["since_open"])
        det._calm = int(state["calm"])
        det._events_opened = int(state["events_opened"])
        det._prev_score = float(state["prev_score"])
        return det
