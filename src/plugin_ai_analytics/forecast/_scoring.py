"""The forecast scores the service reports: MASE, accuracy % and interval coverage.

One definition each, shared by model selection, the backtest report, the benchmark and the
accuracy tracker, so a number means the same thing everywhere it appears.
"""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "accuracy_from_totals", "coverage", "mase", "seasonal_scale"]


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


def accuracy(actual: np.ndarray, forecast: np.ndarray) -> float:
    """100 x (1 - WAPE), WAPE = sum|actual - forecast| / sum|actual|; floored at 0.

    An all-zero actual scores 100 when matched exactly and 0 otherwise.
    """
    actual = np.asarray(actual, dtype=float)
    err = float(np.sum(np.abs(actual - np.asarray(forecast, dtype=float))))
    return accuracy_from_totals(err, float(np.sum(np.abs(actual))))


def accuracy_from_totals(abs_error: float, abs_actual: float) -> float:
    """``accuracy`` from the two sums, Σ|actual − forecast| and Σ|actual|, as a database or a
    tracker keeps them: the one definition every accuracy figure of the product goes through."""
    if abs_actual == 0:
        return 100.0 if abs_error == 0 else 0.0
    return max(0.0, 100.0 * (1.0 - abs_error / abs_actual))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside [lower, upper]."""
    actual = np.asarray(actual, dtype=float)
    return float(np.mean((actual >= np.asarray(lower)) & (actual <= np.asarray(upper))))
