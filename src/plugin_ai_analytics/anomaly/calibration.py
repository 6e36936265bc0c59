"""Turns any detector's raw score into a tail probability and a common 0-1 score.

Each detector's raw scores live on their own scale; the calibrator compares a new raw score with
the detector's own recent scores (empirical rank in the bulk, an exponential peaks-over-threshold
tail beyond it), so 0.3 means "as rare as 1 in 1000" for every detector and every plugin.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._buffer import Ring

__all__ = ["SURPRISE_DECADES", "TailCalibrator", "probability_to_score", "score_to_probability"]

# A score of 1 means a tail probability of 10**-SURPRISE_DECADES or less; the scale is
# logarithmic so that scores from detectors and plugins with different rarity compare.
SURPRISE_DECADES = 10.0
_TAIL_FRACTION = 0.02  # the top 2% of past raw scores define the exponential tail
_REFRESH_EVERY = 32  # re-estimate the tail this often; the tail moves slowly


def probability_to_score(p: float) -> float:
    """Map a tail probability to the 0-1 scale: ``-log10(p) / SURPRISE_DECADES``, clipped."""
    if p >= 1.0:
        return 0.0
    p = max(p, 1e-300)
    return min(1.0, -math.log10(p) / SURPRISE_DECADES)


def score_to_probability(score: float) -> float:
    """Inverse of :func:`probability_to_score` (for scores below 1)."""
    return 10.0 ** (-score * SURPRISE_DECADES)


class TailCalibrator:
    """Running distribution of one detector's raw scores; answers "how rare is this raw score?".

    >>> cal = TailCalibrator(capacity=500, min_count=20)
    >>> for i in range(200):
    ...     cal.learn_one(float(i % 10))
    >>> cal.tail_probability(5.0) > cal.tail_probability(9.0) > cal.tail_probability(30.0)
    True
    """

    def __init__(self, capacity: int = 1000, min_count: int = 30, stride: int = 1) -> None:
        self.capacity = capacity
        self.min_count = min_count
        # Once full, keep every ``stride``-th score: the memory spans capacity * stride samples
        # (rare events are remembered for longer) at the same state size.
        self.stride = stride
        self._seen = 0
        self._scores = Ring(capacity)
        self._since_refresh = _REFRESH_EVERY
        self._u = math.inf  # tail threshold (a high quantile of past raw scores)
        self._beta = 1.0  # mean excess over the threshold

    def _refresh(self) -> None:
        # Oldest-first order so sums (std) are bit-identical after a state round trip.
        past = self._scores.view()
        n = len(past)
        k = max(int(n * _TAIL_FRACTION), 5)
        top = np.partition(past, n - k)[n - k :]
        self._u = float(top.min())
        excess = top - self._u
        spread = float(past.std())
        # A floor on the mean excess keeps a flat history (all raw scores equal) from calling
        # every tiny deviation infinitely rare.
        self._beta = max(float(excess.mean()), 1e-3 * spread, 1e-9)
        self._since_refresh = 0

    def tail_probability(self, raw: float) -> float:
        """P(raw score >= ``raw``) under this detector's recent behaviour (1.0 while warming up)."""
        n = len(self._scores)
        if n < self.min_count or not math.isfinite(raw):
            return 1.0
        if self._since_refresh >= _REFRESH_EVERY:
            self._refresh()
        past = self._scores.unordered()
        if raw <= self._u:
            k = int(np.count_nonzero(past >= raw))
            return (k + 1) / (n + 1)
        tail_mass = max(int(n * _TAIL_FRACTION), 5) / (n + 1)
        return tail_mass * math.exp(-(raw - self._u) / self._beta)

    def surprise(self, raw: float) -> float:
        """``-log10`` of the tail probability of ``raw``: 3.0 means "1 in 1000"."""
        return -math.log10(max(self.tail_probability(raw), 1e-300))

    def score(self, raw: float) -> float:
        """The calibrated 0-1 score of ``raw``."""
        return probability_to_score(self.tail_probability(raw))

    def surprises(self, raws: np.ndarray) -> np.ndarray:
        """``surprise`` of many raw scores against the current state (the same formula, vectorised)."""
        raws = np.asarray(raws, dtype=float)
        p = np.ones(len(raws))
        n = len(self._scores)
        finite = np.isfinite(raws)
        if n >= self.min_count and finite.any():
            if self._since_refresh >= _REFRESH_EVERY:
                self._refresh()
            past = np.sort(self._scores.unordered())
            bulk = finite & (raws <= self._u)
            at_least = n - np.searchsorted(past, raws[bulk], side="left")
            p[bulk] = (at_least + 1) / (n + 1)
            tail = finite & (raws > self._u)
            tail_mass = max(int(n * _TAIL_FRACTION), 5) / (n + 1)
            p[tail] = tail_mass * np.exp(-(raws[tail] - self._u) / self._beta)
        return -np.log10(np.maximum(p, 1e-300))

    def learn_many(self, raws: np.ndarray, seen: int) -> None:
        """Take ``raws`` (oldest first) as the kept past scores of a detector that has produced
        ``seen`` scores in all: how a baseline learnt from history fills its calibrators."""
        raws = np.asarray(raws, dtype=float)
        self._scores.extend(raws[np.isfinite(raws)])
        self._seen = int(seen)
        self._since_refresh = _REFRESH_EVERY  # re-estimate the tail on first use

    def learn_one(self, raw: float) -> None:
        if math.isfinite(raw):
            self._seen += 1
            if len(self._scores) < self.capacity or self._seen % self.stride == 0:
                self._scores.append(raw)
                self._since_refresh += 1

    def to_state(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "min_count": self.min_count,
            "stride": self.stride,
            "seen": self._seen,
            "scores": self._scores.to_state(),
            "since_refresh": self._since_refresh,
            "u": None if math.isinf(self._u) else self._u,
            "beta": self._beta,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TailCalibrator:
        cal = cls(int(state["capacity"]), int(state["min_count"]), int(state["stride"]))
        cal._seen = int(state["seen"])
        cal._scores = Ring.from_state(state["scores"])
        cal._since_refresh = int(state["since_refresh"])
        cal._u = math.inf if state["u"] is None else float(state["u"])
        cal._beta = float(state["beta"])
        return cal
