"""One metric's ensemble: its detectors, their calibrators and the fusion into one surprise.

Each detector's raw score becomes a surprise (``-log10`` tail probability); the detectors'
probabilities are combined with Fisher's method (evidence from several detectors adds up), and
the result is combined with a *sustained* surprise (the recent mean of surprises, itself
calibrated) so that a long stretch of mildly unusual samples counts as much as one wild sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ._buffer import Ring
from .calibration import TailCalibrator
from .detectors import (
    Band,
    LevelShift,
    SeasonalBaseline,
    SubsequenceDiscord,
    UnivariateDetector,
    detector_from_state,
    robust_location_scale,
)
from .history import (
    discord_scores,
    fisher_surprises,
    level_shift_scores,
    scored_positions,
    seasonal_scores,
    seasonal_slots,
)

__all__ = ["MetricChannel", "MetricReading", "SUSTAINED_SPAN", "fisher_surprise"]

SUSTAINED_SPAN = 6  # samples averaged by the sustained signal (30 min at a 5-minute step)
MAX_SURPRISE = 60.0  # beyond 1e-60 every tail probability is just "never seen"
_CALIBRATION_CAPACITY = 1000
_CALIBRATION_MIN = 100
# Once a calibrator is full it keeps every 4th score: two weeks of memory at a 5-minute step,
# so a weekly or fortnightly rare event is still known (measured: NAB 63.7 -> 65.8).
_CALIBRATION_STRIDE = 4
_SEASONAL_MAX_HISTORY = 2016  # one week of 5-minute samples bounds the seasonal buffer
_NOVELTY_MEMORY = 2016  # one week of 5-minute samples


@dataclass(frozen=True, slots=True)
class MetricReading:
    """What one metric's ensemble says about one sample."""

    surprise: float  # -log10 tail probability after fusion; 3.0 = "1 in 1000"
    detector: str  # the detector (or "sustained") that carried the surprise
    expected: float | None
    lower: float | None
    upper: float | None
    # The value lies outside the range of the values remembered (the last week): a new extreme.
    # An anomaly that stays inside that range pages only once it persists (``IncidentTracker``).
    novel: bool = True


def _calibrator() -> TailCalibrator:
    return TailCalibrator(_CALIBRATION_CAPACITY, _CALIBRATION_MIN, _CALIBRATION_STRIDE)


def fisher_surprise(surprises: list[float]) -> float:
    """Fisher's combination of k tail probabilities given as surprises (``-log10 p``).

    Under the null, -2 sum(ln p) follows chi-squared with 2k degrees of freedom, whose tail has
    the closed form exp(-y) * sum_{i<k} y^i / i! with y = -sum(ln p); computed in log space.

    >>> round(fisher_surprise([3.0]), 6)
    3.0
    >>> fisher_surprise([3.0, 3.0]) > 3.0
    True
    """
    y = math.log(10.0) * sum(surprises)
    if y <= 0.0:
        return 0.0
    terms = [i * math.log(y) - math.lgamma(i + 1) for i in range(len(surprises))]
    top = max(terms)
    log_tail = -y + top + math.log(sum(math.exp(t - top) for t in terms))
    return max(0.0, -log_tail / math.log(10.0))


def _mean(values: list[float]) -> float:
    """The mean of a few floats, summed left to right from 0.0 as numpy does below 8 values
    (bit-identical to ``np.mean``, without a numpy call; ``sum()`` compensates from Python 3.12)."""
    total = 0.0
    for v in values:
        total += v
    return total / len(values)


def default_detectors(period: int | None) -> list[UnivariateDetector]:
    """The measured default ensemble for one metric (see docs/anomaly-detection.md)."""
    detectors: list[UnivariateDetector] = [
        # A week of history: what was seen in the last week is not novel (measured on NAB:
        # 1024 samples 65.8, 2048 72.7, 4096 73.6; a week is the operator's natural memory).
        SubsequenceDiscord(m=1, capacity=_NOVELTY_MEMORY),  # a value never seen (HTM's spatial anomaly)
        SubsequenceDiscord(m=8, capacity=_NOVELTY_MEMORY),  # a shape never seen
        LevelShift(recent=6, capacity=256),
    ]
    if period is not None and period >= 4:
        lags = max(1, min(3, _SEASONAL_MAX_HISTORY // period))
        if period * lags <= 2 * _SEASONAL_MAX_HISTORY:
            # Residual scale over a week too (measured: 512 samples 72.8, a week 73.7).
            detectors.append(SeasonalBaseline(period=period, lags=lags, residual_capacity=_NOVELTY_MEMORY))
    return detectors


class MetricChannel:
    """The detectors of one metric and the fusion of their calibrated scores.

    A ``StreamingDetector`` itself: ``score_one`` is the fused surprise of a value.
    """

    kind: ClassVar[str] = "metric_channel"

    def __init__(self, period: int | None, detectors: list[UnivariateDetector] | None = None) -> None:
        self.period = period
        self.detectors = detectors if detectors is not None else default_detectors(period)
        self.calibrators = [_calibrator() for _ in self.detectors]
        self.recent = Ring(SUSTAINED_SPAN)
        self.sustained = _calibrator()
        self.last_value: float | None = None
        self._share_histories()

    def _share_histories(self) -> None:
        # The discords see the same samples with the same capacity: one history serves both.
        discords = [d for d in self.detectors if isinstance(d, SubsequenceDiscord)]
        for det in discords[1:]:
            if det.history.capacity == discords[0].history.capacity:
                det.share_history(discords[0])

    def _names(self) -> list[str]:
        names = []
        for det in self.detectors:
            m = getattr(det, "m", None)
            names.append(f"{det.kind}{m}" if m is not None else det.kind)
        return names

    def update(self, x: float) -> MetricReading:
        """Score ``x`` with everything learned so far, then learn it (score-then-learn: causal)."""
        band = self.band()  # before learning x: the band x is judged against
        novel = self._novel(x)
        ready, raws, surprises, base, mean_recent, sustained = self._assess(x)
        # Learn only after every detector has scored: some share one history.
        for det, cal, raw, ok in zip(self.detectors, self.calibrators, raws, ready, strict=True):
            if ok:
                cal.learn_one(raw)
            det.learn_one(x)
        k = int(np.argmax(surprises))
        self.recent.append(base)
        self.sustained.learn_one(mean_recent)
        detector = self._names()[k]
        if sustained > base:
            detector = "sustained"
        self.last_value = x
        return MetricReading(
            surprise=self._fused(base, sustained),
            detector=detector,
            expected=band.expected if band else None,
            lower=band.lower if band else None,
            upper=band.upper if band else None,
            novel=novel,
        )

    def _novel(self, x: float) -> bool:
        """Whether ``x`` lies outside the range of the values remembered (True until 3 are)."""
        history = self.detectors[0].history
        if len(history) < 3:
            return True
        past = history.unordered()
        return bool(x < past.min() or x > past.max())

    def _assess(self, x: float) -> tuple[list[bool], list[float], list[float], float, float, float]:
        """What ``update(x)`` computes before it learns anything: which detectors are ready, their
        raw scores and surprises, the fused surprise, the recent mean it makes and its surprise."""
        ready = [det.ready for det in self.detectors]
        raws = [det.score_one(x) if ok else math.nan for det, ok in zip(self.detectors, ready, strict=True)]
        surprises = [
            min(cal.surprise(raw), MAX_SURPRISE) if ok else 0.0
            for cal, raw, ok in zip(self.calibrators, raws, ready, strict=True)
        ]
        base = min(fisher_surprise(surprises), MAX_SURPRISE)
        # The recent ring as it will be once ``base`` is appended (oldest dropped when full).
        recent = self.recent.view().tolist()
        recent.append(base)
        mean_recent = _mean(recent[-self.recent.capacity :])
        sustained = min(self.sustained.surprise(mean_recent), MAX_SURPRISE)
        return ready, raws, surprises, base, mean_recent, sustained

    @staticmethod
    def _fused(base: float, sustained: float) -> float:
        return max(0.0, max(base, sustained) - math.log10(2.0))

    def score_one(self, x: float) -> float:
        """The surprise ``update(x)`` would report, without learning ``x`` (``StreamingDetector``)."""
        _, _, _, base, _, sustained = self._assess(x)
        return self._fused(base, sustained)

    def learn_one(self, x: float) -> None:
        """``update(x)`` without its reading: the ensemble learns by scoring (``StreamingDetector``)."""
        self.update(x)

    def learn_history(
        self, values: np.ndarray, slots: np.ndarray | None = None, slot_of_update: np.ndarray | None = None
    ) -> None:
        """Learn a block of this metric's past values at once (see ``PluginDetector.learn_history``).

        ``values``: the metric's values, one per update, oldest first. ``slots``: the seasonal
        baseline's slot sequence (NaN where streaming imputes a missing sample) and
        ``slot_of_update``: each update's slot, -1 for updates before the baseline existed.
        """
        values = np.asarray(values, dtype=float)
        count = len(values)
        # One set of positions for all detectors (from when the slowest non-seasonal one is ready).
        first = max(d.min_history for d in self.detectors if not isinstance(d, SeasonalBaseline))
        positions = scored_positions(min(first, count), count)
        # The newest SUSTAINED_SPAN positions too: the recent fused surprises the sustained signal
        # continues from (scored and fused, not added to the calibrators).
        newest = np.arange(max(0, count - SUSTAINED_SPAN), count)
        newest = newest[newest > (positions[-1] if len(positions) else -1)]
        learnt = len(positions)
        positions = np.concatenate([positions, newest])
        surprises = np.zeros((len(positions), len(self.detectors)))
        history_scales: dict[int, float] = {}  # the discords' shared history: one scale per run
        for j, (det, cal) in enumerate(zip(self.detectors, self.calibrators, strict=True)):
            if isinstance(det, SeasonalBaseline):
                if slots is None or slot_of_update is None:
                    continue
                present = np.zeros(len(slots), dtype=bool)
                slot = slot_of_update[slot_of_update >= 0]
                present[slot] = True
                present[: int((slot_of_update < 0).sum())] = True  # the seed: learnt, not scored
                expected, before, residuals, filled = seasonal_slots(det, slots, present)
                ready_update = np.zeros(count, dtype=bool)
                ready_update[slot_of_update >= 0] = ~np.isnan(expected[slot])
                ok = ready_update[positions]
                raws = seasonal_scores(det, slot_of_update[positions[ok]], expected, before, residuals, filled)
                seen = int(ready_update.sum())
            else:
                if det._owns_history:
                    det.history.extend(values[-det.history.capacity :])
                # Ready once the history holds min_history values, i.e. from update min_history on.
                ok = positions >= det.min_history
                if isinstance(det, SubsequenceDiscord):
                    raws = discord_scores(values, positions[ok], det, history_scales)
                elif isinstance(det, LevelShift):
                    raws = level_shift_scores(values, positions[ok], det)
                else:
                    raise TypeError(f"no vectorised history for {type(det).__name__}")
                seen = max(0, count - det.min_history)
            cal.learn_many(raws[: int(ok[:learnt].sum())], seen)
            surprises[ok, j] = np.minimum(cal.surprises(raws), MAX_SURPRISE)
        base = np.minimum(fisher_surprises(surprises), MAX_SURPRISE)
        # The sustained signal: means of SUSTAINED_SPAN consecutive fused surprises, where the
        # scored positions run consecutively that long.
        span = SUSTAINED_SPAN
        if learnt >= span:
            kept = positions[:learnt]
            consecutive = kept[span - 1 :] - kept[: learnt - span + 1] == span - 1
            windows = np.lib.stride_tricks.sliding_window_view(base[:learnt], span)[consecutive]
            self.sustained.learn_many(windows.mean(axis=1), count)
        self.recent.extend(base[positions >= count - span][-span:])
        self.last_value = float(values[-1]) if count else None

    def skip(self) -> None:
        """The metric is missing from a sample (or samples are missing): keep seasonal phase."""
        for det in self.detectors:
            if isinstance(det, SeasonalBaseline):
                det.skip()

    def enable_seasonal(self, period: int) -> None:
        """Add the daily seasonal baseline once the sampling period is known, seeded with history."""
        if self.period is not None or any(isinstance(d, SeasonalBaseline) for d in self.detectors):
            return
        self.period = period
        for det in default_detectors(period):
            if isinstance(det, SeasonalBaseline):
                for v in self.detectors[0].history.view():
                    det.learn_one(float(v))
                self.detectors.append(det)
                self.calibrators.append(_calibrator())

    def band(self) -> Band | None:
        """Expected value and normal band for the next sample: seasonal if known, else recent level."""
        for det in self.detectors:
            if isinstance(det, SeasonalBaseline):
                band = det.band()
                if band is not None:
                    return band
        hist = self.detectors[0].history.last(256)
        if len(hist) < 10:
            return None
        med, scale = robust_location_scale(hist)
        return Band(med, med - 3.0 * scale, med + 3.0 * scale)

    def history(self, n: int) -> np.ndarray:
        """The last ``n`` values of this metric (for action rules such as a steady memory climb)."""
        return self.detectors[0].history.last(n)

    def to_state(self) -> dict[str, Any]:
        detectors = [d.to_state() for d in self.detectors]
        # The two discords learn the same samples: store a history once, point to it after.
        seen: dict[str, int] = {}
        for i, d in enumerate(detectors):
            key = d["history"]["f64"] + "|" + str(d["history"]["capacity"])
            if key in seen:
                d["history"] = {"same_as": seen[key]}
            else:
                seen[key] = i
        return {
            "period": self.period,
            "detectors": detectors,
            "calibrators": [c.to_state() for c in self.calibrators],
            "recent": self.recent.to_state(),
            "sustained": self.sustained.to_state(),
            "last_value": self.last_value,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MetricChannel:
        states = [dict(d) for d in state["detectors"]]
        for d in states:
            if "same_as" in d["history"]:
                d["history"] = states[d["history"]["same_as"]]["history"]
        ch = cls(state["period"], [detector_from_state(d) for d in states])
        ch.calibrators = [TailCalibrator.from_state(c) for c in state["calibrators"]]
        ch.recent = Ring.from_state(state["recent"])
        ch.sustained = TailCalibrator.from_state(state["sustained"])
        ch.last_value = state["last_value"]
        return ch
