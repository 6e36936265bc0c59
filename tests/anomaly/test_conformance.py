"""Every streaming detector obeys the same contract: causal, finite, calibratable, restorable.

The detectors are found, not listed: every class of the anomaly package with the
``StreamingDetector`` methods must be registered in ``STREAMING_DETECTORS``, and every registered
one is put through each test here as it is, through the protocol alone.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import pkgutil
from typing import Any

import numpy as np
import pytest

import plugin_ai_analytics.anomaly as anomaly
from plugin_ai_analytics.anomaly.calibration import TailCalibrator
from plugin_ai_analytics.anomaly.detectors import UnivariateDetector
from plugin_ai_analytics.anomaly.streaming import STREAMING_DETECTORS, StreamingDetector

# Small, fast instances (and the test series' period); a detector not listed here is built with
# its defaults, so a new one is under test the moment it is registered.
PARAMS: dict[str, dict[str, Any]] = {
    "recent_level": {"capacity": 128},
    "seasonal": {"period": 24, "lags": 3},
    "discord": {"m": 4, "capacity": 256},
    "level_shift": {"recent": 6, "capacity": 128},
    "variance_change": {"recent": 12, "capacity": 128},
    "isolation_forest": {"n_features": 3, "window": 128, "refit_every": 64},
    "metric_channel": {"period": 24},
}
BASES = {UnivariateDetector}  # the single-metric detectors' common base scores nothing itself


def detector_classes() -> set[type]:
    """Every class of the anomaly package with the ``StreamingDetector`` methods."""
    found = set()
    for info in pkgutil.iter_modules(anomaly.__path__):
        module = importlib.import_module(f"{anomaly.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            methods = ("score_one", "learn_one", "to_state", "from_state")
            if (
                cls.__module__ == module.__name__
                and cls is not StreamingDetector
                and all(callable(getattr(cls, m, None)) for m in methods)
            ):
                found.add(cls)
    return found


def test_every_streaming_detector_is_registered() -> None:
    # A detector class missing from STREAMING_DETECTORS fails here, so none escapes the tests below.
    assert detector_classes() - BASES == set(STREAMING_DETECTORS.values())


def make(kind: str) -> StreamingDetector[Any]:
    det = STREAMING_DETECTORS[kind](**PARAMS.get(kind, {}))
    assert isinstance(det, StreamingDetector)
    return det


def sample(det: StreamingDetector[Any], x: float) -> Any:
    """``x`` as ``det`` takes a sample: the value, or for a multivariate detector a row of
    ``n_features`` values that move with it (the last one an hour of day)."""
    n = getattr(det, "n_features", None)
    if n is None:
        return x
    return [x, *(0.5 * x + j for j in range(1, n - 1)), float(int(abs(x) * 7) % 24)]


def restored(det: StreamingDetector[Any]) -> StreamingDetector[Any]:
    return type(det).from_state(json.loads(json.dumps(det.to_state())))


def series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, n)
    x[rng.choice(n, 5, replace=False)] += 15  # a few spikes
    x[n // 2 :] += 4  # a level shift
    return x


def run(det: StreamingDetector[Any], xs: np.ndarray) -> list[float]:
    scores = []
    for x in xs:
        s = sample(det, float(x))
        scores.append(det.score_one(s))
        det.learn_one(s)
    return scores


@pytest.mark.parametrize("kind", sorted(STREAMING_DETECTORS))
def test_scores_are_finite_and_nonnegative(kind: str) -> None:
    scores = run(make(kind), series(400, 0))
    assert all(math.isfinite(s) and s >= 0.0 for s in scores)
    assert max(scores) > 0.0, "a detector that never scores anything is not detecting"


@pytest.mark.parametrize("kind", sorted(STREAMING_DETECTORS))
def test_causal_prefix_scores_do_not_depend_on_the_future(kind: str) -> None:
    a, b = series(400, 0), series(400, 0)
    b[300:] = series(400, 9)[300:] * 3  # a different future
    assert run(make(kind), a)[:300] == run(make(kind), b)[:300]


@pytest.mark.parametrize("kind", sorted(STREAMING_DETECTORS))
def test_scoring_does_not_learn(kind: str) -> None:
    det, twin = make(kind), make(kind)
    run(det, series(200, 1))
    run(twin, series(200, 1))
    first = det.score_one(sample(det, 50.0))
    assert det.score_one(sample(det, 50.0)) == first
    assert run(det, series(100, 4)) == run(twin, series(100, 4))  # the unlearnt 50.0 left no trace


@pytest.mark.parametrize("kind", sorted(STREAMING_DETECTORS))
def test_state_round_trip_gives_identical_scores(kind: str) -> None:
    xs = series(500, 2)
    det = make(kind)
    run(det, xs[:250])
    again = restored(det)
    assert json.dumps(again.to_state()) == json.dumps(det.to_state())
    assert run(again, xs[250:]) == run(det, xs[250:])


@pytest.mark.parametrize("kind", sorted(STREAMING_DETECTORS))
def test_calibrated_scores_lie_in_unit_interval_and_rank_the_excursion_highest(kind: str) -> None:
    xs = series(400, 3)
    xs[350:360] += 60  # one unmistakable excursion (long enough for the window detectors)
    det, cal = make(kind), TailCalibrator(capacity=1000, min_count=30)
    calibrated = []
    for x in xs:
        s = sample(det, float(x))
        raw = det.score_one(s)
        calibrated.append(cal.score(raw))
        cal.learn_one(raw)
        det.learn_one(s)
    assert all(0.0 <= s <= 1.0 for s in calibrated)
    assert max(calibrated[350:360]) > max(calibrated[300:350])
