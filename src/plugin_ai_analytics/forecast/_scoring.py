"""The forecast scores the service reports: MASE, accuracy % and interval coverage.

One definition each, shared by model selection, the backtest report, the benchmark and the
accuracy tracker, so a number means the same thing everywhere it appears.
"""

from __future__ import annotations

import numpy as np

__all__ = ["accuracies", "accuracy", "accuracy_from_sums", "coverage", "mase", "seasonal_scale"]


def seasonal_scale(history: np.ndarray, season: int) -> float:
    """In-sample mean absolute error of the seasonal-naive forecast (daily), MASE's denominator.

    Falls back to the one-step naive error when the history is shorter than a cycle, and to a
    tiny positive number for a constant history, so MASE stays finite (and large for any error).
    """
    history = np.asarray(history, dtype=float)
    lag = season if len(history) > season else 1
    if len(history) <= lag:
        return 1e-12
    scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
    return scale if scale > 0 else 1e-12


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute error over the horizon divided by ``seasonal_scale`` (below 1 beats it)."""
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))) / scale)


def accuracy_from_sums(abs_error: np.ndarray | float, abs_actual: np.ndarray | float) -> np.ndarray:
    """``accuracy`` from its two sums, element-wise: sum|actual - forecast| and sum|actual| of
    each group (an origin, a block of horizon steps).

    100 x (1 - abs_error / abs_actual), floored at 0 (a NaN counts as 0, as ``max(0, nan)``);
    an all-zero actual scores 100 when matched exactly and 0 otherwise.
    """
    abs_error = np.asarray(abs_error, dtype=float)
    abs_actual = np.asarray(abs_actual, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.fmax(0.0, 100.0 * (1.0 - abs_error / abs_actual))
    return np.where(abs_actual > 0, acc, np.where(abs_error == 0, 100.0, 0.0))


def accuracies(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """``accuracy`` of each row (e.g. each backtest origin) at once, along the last axis."""
    actual = np.asarray(actual, dtype=float)
    abs_error = np.sum(np.abs(actual - np.asarray(forecast, dtype=float)), axis=-1)
    return accuracy_from_sums(abs_error, np.sum(np.abs(actual), axis=-1))


def accuracy(actual: np.ndarray, forecast: np.ndarray) -> float:
    """100 x (1 - WAPE), WAPE = sum|actual - forecast| / sum|actual|; floored at 0.

    An all-zero actual scores 100 when matched exactly and 0 otherwise. Every accuracy figure
    of the engine (selection, intervals' confidence, backtest report) is this one.

    >>> accuracy([10.0, 10.0], [9.0, 12.0]), accuracy([0.0, 0.0], [0.0, 0.0]), accuracy([1.0], [5.0])
    (85.0, 100.0, 0.0)
    """
    return float(accuracies(np.ravel(actual), np.ravel(forecast)))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside [lower, upper]."""
    actual = np.asarray(actual, dtype=float)
    return float(np.mean((actual >= np.asarray(lower)) & (actual <= np.asarray(upper))))
