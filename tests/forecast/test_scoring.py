"""One accuracy: 100 x (1 - WAPE) floored at 0, an all-zero actual 100 if matched else 0, whether
it is taken of one forecast, of each backtest origin, or of each block of horizon steps."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from plugin_ai_analytics.forecast import _calibration, _scoring
from plugin_ai_analytics.forecast._scoring import accuracies, accuracy, accuracy_from_sums


@pytest.mark.parametrize(
    ("actual", "forecast", "expected"),
    [
        ([10.0, 10.0], [9.0, 12.0], 85.0),  # WAPE 3 / 20
        ([1.0, 1.0], [5.0, 5.0], 0.0),  # WAPE above 1: floored
        ([0.0, 0.0], [0.0, 0.0], 100.0),  # nothing to forecast, nothing missed
        ([0.0, 0.0], [0.0, 0.1], 0.0),  # nothing to forecast, something forecast
        ([-4.0, 4.0], [-4.0, 2.0], 75.0),  # absolute values: a negative actual weighs as much
        ([1.0, math.nan], [1.0, 1.0], 0.0),  # an unknown error is no accuracy
    ],
)
def test_accuracy(actual: list[float], forecast: list[float], expected: float) -> None:
    assert accuracy(np.array(actual), np.array(forecast)) == expected


def test_accuracies_of_rows_are_the_accuracy_of_each_row() -> None:
    rng = np.random.default_rng(1)
    actual = rng.normal(10, 5, (40, 288))
    actual[3] = 0.0
    forecast = actual + rng.normal(0, 4, actual.shape)
    forecast[3] = 0.0
    forecast[7] = -actual[7] * 3  # floored
    rows = accuracies(actual, forecast)
    assert rows.tolist() == [accuracy(a, f) for a, f in zip(actual, forecast, strict=True)]
    assert rows[3] == 100.0 and rows[7] == 0.0


def test_from_sums_is_the_definition() -> None:
    assert accuracy_from_sums(np.array([3.0, 0.0, 1.0, 50.0]), np.array([20.0, 0.0, 0.0, 10.0])).tolist() == [
        85.0,
        100.0,
        0.0,
        0.0,
    ]


def test_interval_confidence_is_the_accuracy_of_each_block() -> None:
    rng = np.random.default_rng(2)
    actual = rng.normal(50, 10, (6, 288))
    forecast = actual + rng.normal(0, 5, actual.shape)
    confidence = _calibration.calibrate(actual - forecast, actual).confidence
    blocks = _calibration.block_of(288)
    for b in range(len(confidence)):
        # The block's errors pooled over the origins, as one long forecast.
        assert confidence[b] == pytest.approx(accuracy(actual[:, blocks == b].T, forecast[:, blocks == b].T), abs=1e-9)


def test_docstring_examples() -> None:
    assert doctest.testmod(_scoring).failed == 0
