"""Streaming single-metric detectors with the river interface: ``learn_one(x)`` / ``score_one(x)``.

Each detector keeps a bounded history, is strictly causal (a score uses only samples learned
before it plus ``x`` itself), returns a raw score where higher means more anomalous, and
serialises to a JSON-safe dict. Raw scores are put on a common scale by ``calibration``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._buffer import Ring

__all__ = [
    "DETECTOR_TYPES",
    "Band",
    "LevelShift",
    "RecentLevel",
    "SeasonalBaseline",
    "SubsequenceDiscord",
    "UnivariateDetector",
    "VarianceChange",
    "detector_from_state",
]

_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


def median(values: np.ndarray) -> float:
    """The median, via one partition: np.median's generality costs more than the work here,
    and detectors take several medians per sample."""
    n = len(values)
    k = n // 2
    if n <= 8:
        # A handful of values (a level-shift window, the seasonal lags): sorting a list is
        # several times cheaper than a numpy call and picks the very same values.
        ordered = sorted(values.tolist())
        return float(ordered[k]) if n % 2 else 0.5 * (float(ordered[k - 1]) + float(ordered[k]))
    if n % 2:
        return float(np.partition(values, k)[k])
    part = np.partition(values, (k - 1, k))
    return 0.5 * (float(part[k - 1]) + float(part[k]))


def robust_location_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and a robust standard deviation (MAD-based, never zero for a non-empty input).

    Robust statistics keep the baseline from following the anomalies themselves: a spike or a
    short outage moves a median and a MAD far less than a mean and a standard deviation.
    """
    med = median(values)
    dev = np.abs(values - med)
    scale = _MAD_TO_SIGMA * median(dev)
    if scale <= 0.0:
        # More than half the history is one value (a flat line, a square wave): fall back to
        # the mean deviation, then to a tiny fraction of the level, so a change still registers.
        scale = float(dev.mean())
    if scale <= 0.0:
        scale = 1e-6 * max(abs(med), 1.0)
    return med, scale


class Band:
    """Expected value and the band it is normally found in, for explanations."""

    __slots__ = ("expected", "lower", "upper")

    def __init__(self, expected: float, lower: float, upper: float) -> None:
        self.expected, self.lower, self.upper = expected, lower, upper


class UnivariateDetector:
    """Base of the single-metric detectors: a history ring and the river-style interface."""

    kind: ClassVar[str] = "base"
    # What an anomaly of this detector means to an operator (used as an event's kind).
    meaning: ClassVar[str] = ""

    def __init__(self, capacity: int) -> None:
        self.history = Ring(capacity)
        self._owns_history = True

    def share_history(self, owner: UnivariateDetector) -> None:
        """Read ``owner``'s history instead of keeping a copy (``owner`` learns for both).

        Two detectors over the same samples and capacity (the discords) need one history, not
        two. The caller must score every detector before any of them learns the sample.
        """
        if owner.history.capacity != self.history.capacity:
            raise ValueError("shared histories must have the same capacity")
        self.history = owner.history
        self._owns_history = False

    @property
    def ready(self) -> bool:
        return len(self.history) >= self.min_history

    @property
    def min_history(self) -> int:
        return 10

    def learn_one(self, x: float) -> None:
        if self._owns_history:
            self.history.append(float(x))

    def score_one(self, x: float) -> float:
        """Raw anomaly score of ``x`` given the history (0.0 until enough history)."""
        if not self.ready:
            return 0.0
        return self._score(float(x))

    def _score(self, x: float) -> float:
        raise NotImplementedError

    def _params(self) -> dict[str, Any]:
        return {"capacity": self.history.capacity}

    def to_state(self) -> dict[str, Any]:
        return {"type": self.kind, "params": self._params(), "history": self.history.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> UnivariateDetector:
        det = cls(**state["params"])
        det.history = Ring.from_state(state["history"])
        return det


class RecentLevel(UnivariateDetector):
    """How far ``x`` is from the recent level, in robust standard deviations.

    >>> det = RecentLevel(capacity=50)
    >>> for v in [10.0, 11.0, 9.0, 10.5, 9.5] * 10:
    ...     det.learn_one(v)
    >>> det.score_one(10.2) < 1.0 < det.score_one(30.0)
    True
    """

    kind = "recent_level"
    meaning = "spike"

    def __init__(self, capacity: int = 256) -> None:
        super().__init__(capacity)

    def _score(self, x: float) -> float:
        med, scale = robust_location_scale(self.history.view())
        return abs(x - med) / scale

    def band(self, width: float = 3.0) -> Band | None:
        if not self.ready:
            return None
        med, scale = robust_location_scale(self.history.view())
        return Band(med, med - width * scale, med + width * scale)


class SeasonalBaseline(UnivariateDetector):
    """Distance of ``x`` from the same time of day on the previous days, scaled by past residuals.

    The expected value is the median over up to ``lags`` previous periods, so one anomalous day
    does not become tomorrow's baseline.

    >>> det = SeasonalBaseline(period=4, lags=3)
    >>> for i in range(40):
    ...     det.learn_one([0.0, 5.0, 10.0, 5.0][i % 4] + 0.1 * (i % 3))
    >>> det.score_one(0.1) < det.score_one(10.0)
    True
    """

    kind = "seasonal"
    meaning = "seasonal deviation"

    def __init__(self, period: int, lags: int = 3, residual_capacity: int = 512) -> None:
        super().__init__(period * lags)
        self.period = int(period)
        self.lags = int(lags)
        self.residuals = Ring(residual_capacity)

    @property
    def min_history(self) -> int:
        return self.period + 1

    def _expected(self) -> float:
        # Read by the band, the score and the learning of one sample: computed once per sample.
        return self.history.derived("seasonal_expected", self._compute_expected)

    def _compute_expected(self) -> float:
        n = len(self.history)
        # The value one period before the incoming sample sits at index n - period.
        lagged = [self.history.at(n - k * self.period) for k in range(1, self.lags + 1) if n - k * self.period >= 0]
        return median(np.asarray(lagged, dtype=float))

    def _residual_scale(self) -> float:
        # Oldest-first: the flat-history fallback (a mean) must sum in the same order every time.
        return self.residuals.derived("robust", lambda: robust_location_scale(self.residuals.view()))[1]

    def _score(self, x: float) -> float:
        if len(self.residuals) < 10:
            return 0.0
        return abs(x - self._expected()) / self._residual_scale()

    def learn_one(self, x: float) -> None:
        if self.ready:
            self.residuals.append(float(x) - self._expected())
        super().learn_one(x)

    def skip(self) -> None:
        """A sample is missing: fill its slot with the expected value so the phase stays aligned."""
        if self.ready:
            self.history.append(self._expected())
        elif len(self.history):
            self.history.append(float(self.history.last(1)[0]))

    def band(self, width: float = 3.0) -> Band | None:
        if not self.ready or len(self.residuals) < 10:
            return None
        expected = self._expected()
        scale = self._residual_scale()
        return Band(expected, expected - width * scale, expected + width * scale)

    def _params(self) -> dict[str, Any]:
        return {"period": self.period, "lags": self.lags, "residual_capacity": self.residuals.capacity}

    def to_state(self) -> dict[str, Any]:
        state = super().to_state()
        state["residuals"] = self.residuals.to_state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SeasonalBaseline:
        det = cls(**state["params"])
        det.history = Ring.from_state(state["history"])
        det.residuals = Ring.from_state(state["residuals"])
        return det


class SubsequenceDiscord(UnivariateDetector):
    """Distance from the latest ``m`` samples to their nearest neighbour in the past (a discord).

    Catches shapes never seen before even when every single value is in range (a flat stretch
    in a daily cycle, a missing peak), which value-based detectors cannot see.

    >>> det = SubsequenceDiscord(m=4, capacity=200)
    >>> for i in range(120):
    ...     det.learn_one(float(i % 6))
    >>> det.score_one(4.0) < det.score_one(2.5)
    True
    """

    kind = "discord"
    meaning = "unusual pattern"

    def __init__(self, m: int = 8, capacity: int = 1024) -> None:
        super().__init__(capacity)
        self.m = int(m)

    @property
    def min_history(self) -> int:
        return 3 * self.m

    def _score(self, x: float) -> float:
        # The discords of a metric share one history: its robust scale is computed once per sample.
        history = self.history
        _, scale = history.derived("robust", lambda: robust_location_scale(history.derived("ordered", history.view)))
        m = self.m
        if m == 1:
            # The nearest single value: order-free, and |d| squared then rooted is |d| again.
            d = float(np.abs(history.unordered() - x).min())
            return math.sqrt(d * d) / scale
        hist = history.derived("ordered", history.view)
        n = len(hist)
        query = np.empty(m)
        query[: m - 1] = hist[n - m + 1 :]
        query[m - 1] = x
        # Candidates end at least m samples before the query so trivial self-matches are excluded.
        past = hist[: n - m + 1]
        windows = as_strided(past, shape=(len(past) - m + 1, m), strides=(past.strides[0], past.strides[0]))
        diff = windows - query
        d2 = np.einsum("ij,ij->i", diff, diff)
        return math.sqrt(float(d2.min()) / m) / scale

    def _params(self) -> dict[str, Any]:
        return {"m": self.m, "capacity": self.history.capacity}


class LevelShift(UnivariateDetector):
    """Shift of the median of the last ``recent`` samples against the reference before them.

    A windowed two-sample test rather than a cumulative sum: it needs no drift parameter and
    forgets a shift once the new level has become the reference.
    """

    kind = "level_shift"
    meaning = "level shift"

    def __init__(self, recent: int = 6, capacity: int = 256) -> None:
        super().__init__(capacity)
        self.recent = int(recent)

    @property
    def min_history(self) -> int:
        return 4 * self.recent

    def _score(self, x: float) -> float:
        hist = self.history.view()
        ref = hist[: len(hist) - self.recent + 1]
        now = np.append(hist[len(hist) - self.recent + 1 :], x)
        med, scale = robust_location_scale(ref)
        # Dividing by sqrt(recent) would make it a z-test of the mean; the median of few points
        # is noisier, so the plain ratio keeps the raw score comparable to RecentLevel's.
        return abs(median(now) - med) / scale

    def _params(self) -> dict[str, Any]:
        return {"recent": self.recent, "capacity": self.history.capacity}


class VarianceChange(UnivariateDetector):
    """Log ratio of the recent spread to the reference spread (a variance change, either way)."""

    kind = "variance_change"
    meaning = "volatility change"

    def __init__(self, recent: int = 12, capacity: int = 256) -> None:
        super().__init__(capacity)
        self.recent = int(recent)

    @property
    def min_history(self) -> int:
        return 4 * self.recent

    def _score(self, x: float) -> float:
        hist = self.history.view()
        ref = hist[: len(hist) - self.recent + 1]
        now = np.append(hist[len(hist) - self.recent + 1 :], x)
        # Spread of successive differences: insensitive to a pure level shift, which LevelShift owns.
        now_spread = float(np.abs(np.diff(now)).mean())
        ref_spread = float(np.abs(np.diff(ref)).mean())
        floor = 1e-9 * max(float(np.abs(ref).mean()), 1.0)
        return abs(math.log((now_spread + floor) / (ref_spread + floor)))

    def _params(self) -> dict[str, Any]:
        return {"recent": self.recent, "capacity": self.history.capacity}


DETECTOR_TYPES: dict[str, type[UnivariateDetector]] = {
    cls.kind: cls for cls in (RecentLevel, SeasonalBaseline, SubsequenceDiscord, LevelShift, VarianceChange)
}


def detector_from_state(state: dict[str, Any]) -> UnivariateDetector:
    """Rebuild any single-metric detector from its ``to_state()`` dict."""
    return DETECTOR_TYPES[state["type"]].from_state(state)
