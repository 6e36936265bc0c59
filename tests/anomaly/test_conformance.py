"""Every streaming detector obeys the same contract: causal, finite, calibratable, restorable."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from plugin_ai_analytics.anomaly.calibration import TailCalibrator
from plugin_ai_analytics.anomaly.channel import MetricChannel
from plugin_ai_analytics.anomaly.detectors import (
    DETECTOR_TYPES,
    LevelShift,
    RecentLevel,
    SeasonalBaseline,
    SubsequenceDiscord,
    VarianceChange,
    detector_from_state,
)
from plugin_ai_analytics.anomaly.isolation import IsolationForestDetector


class _Univariate:
    """Adapter: a single-metric detector seen through the common test interface."""

    def __init__(self, det: Any) -> None:
        self.det = det

    def score_one(self, x: float) -> float:
        return self.det.score_one(x)

    def learn_one(self, x: float) -> None:
        self.det.learn_one(x)

    def roundtrip(self) -> _Univariate:
        return _Univariate(detector_from_state(json.loads(json.dumps(self.det.to_state()))))


class _Forest:
    """Adapter: the multivariate forest fed rows built from the test series."""

    def __init__(self, det: IsolationForestDetector) -> None:
        self.det = det

    @staticmethod
    def row(x: float) -> list[float]:
        return [x, 0.5 * x + 1.0, float(int(abs(x) * 7) % 24)]

    def score_one(self, x: float) -> float:
        return self.det.score_one(self.row(x))

    def learn_one(self, x: float) -> None:
        self.det.learn_one(self.row(x))

    def roundtrip(self) -> _Forest:
        return _Forest(IsolationForestDetector.from_state(json.loads(json.dumps(self.det.to_state()))))


class _Channel:
    """Adapter: a metric's whole ensemble (its update scores then learns)."""

    def __init__(self, ch: MetricChannel) -> None:
        self.ch = ch
        self._pending: float | None = None

    def score_one(self, x: float) -> float:
        # The channel has no separate score: score on a copy so the real one is not mutated.
        clone = MetricChannel.from_state(json.loads(json.dumps(self.ch.to_state())))
        return clone.update(x).surprise

    def learn_one(self, x: float) -> None:
        self.ch.update(x)

    def roundtrip(self) -> _Channel:
        return _Channel(MetricChannel.from_state(json.loads(json.dumps(self.ch.to_state()))))


UNIVARIATE: dict[str, Callable[[], Any]] = {
    "recent_level": lambda: RecentLevel(capacity=128),
    "seasonal": lambda: SeasonalBaseline(period=24, lags=3),
    "discord": lambda: SubsequenceDiscord(m=4, capacity=256),
    "level_shift": lambda: LevelShift(recent=6, capacity=128),
    "variance_change": lambda: VarianceChange(recent=12, capacity=128),
}
FACTORIES: dict[str, Callable[[], Any]] = {
    **{k: (lambda f=f: _Univariate(f())) for k, f in UNIVARIATE.items()},
    "isolation_forest": lambda: _Forest(IsolationForestDetector(n_features=3, window=128, refit_every=64)),
    "metric_channel": lambda: _Channel(MetricChannel(period=24)),
}


def test_every_registered_detector_is_under_test() -> None:
    # A new detector registered in DETECTOR_TYPES without a factory here fails this test.
    assert set(DETECTOR_TYPES) == set(UNIVARIATE)


def series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, n)
    x[rng.choice(n, 5, replace=False)] += 15  # a few spikes
    x[n // 2 :] += 4  # a level shift
    return x


def run(det: Any, xs: np.ndarray) -> list[float]:
    scores = []
    for x in xs:
        scores.append(det.score_one(float(x)))
        det.learn_one(float(x))
    return scores


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_scores_are_finite_and_nonnegative(name: str) -> None:
    scores = run(FACTORIES[name](), series(400, 0))
    assert all(math.isfinite(s) and s >= 0.0 for s in scores)
    assert max(scores) > 0.0, "a detector that never scores anything is not detecting"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_causal_prefix_scores_do_not_depend_on_the_future(name: str) -> None:
    a, b = series(400, 0), series(400, 0)
    b[300:] = series(400, 9)[300:] * 3  # a different future
    assert run(FACTORIES[name](), a)[:300] == run(FACTORIES[name](), b)[:300]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_scoring_does_not_learn(name: str) -> None:
    det = FACTORIES[name]()
    run(det, series(200, 1))
    first = det.score_one(50.0)
    assert det.score_one(50.0) == first


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_round_trip_gives_identical_scores(name: str) -> None:
    xs = series(500, 2)
    det = FACTORIES[name]()
    run(det, xs[:250])
    restored = det.roundtrip()
    assert run(restored, xs[250:]) == run(det, xs[250:])


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_calibrated_scores_lie_in_unit_interval_and_rank_the_excursion_highest(name: str) -> None:
    xs = series(400, 3)
    xs[350:360] += 60  # one unmistakable excursion (long enough for the window detectors)
    det, cal = FACTORIES[name](), TailCalibrator(capacity=1000, min_count=30)
    calibrated = []
    for x in xs:
        raw = det.score_one(float(x))
        calibrated.append(cal.score(raw))
        cal.learn_one(raw)
        det.learn_one(float(x))
    assert all(0.0 <= s <= 1.0 for s in calibrated)
    assert max(calibrated[350:360]) > max(calibrated[300:350])
