"""Season-trend decomposition by LOESS (STL), the non-robust variant MSTL runs, in numpy.

Without robustness weights every LOESS weight depends only on positions, never on the data, so
each smoothing pass is a fixed matrix: built once per series length and window, then STL is a
few matrix-vector products. Same algorithm, windows and passes as ``statsmodels``' STL (which
``statsforecast``' MSTL calls, at about 5 ms per hourly fortnight against 0.3 ms here); the
results agree to rounding (tests/forecast/test_stl.py).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["stl"]

# statsmodels' default for a non-robust fit: five passes of the inner loop, no outer loop.
INNER_PASSES = 5


def _weights(n: int, width: int, degree: int, xs: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """LOESS weights (one row per estimate at 1-based position ``xs`` from the points
    ``left..right``), as statsmodels' ``_est``; a row of NaN where no point has weight.

    Every weight outside ``left..right`` is zero, so the per-point formulas run only on each
    row's band; every row sum is still taken over the whole row (zeros included, the same
    summation order), so the matrix is bit for bit the dense computation's
    (tests/forecast/test_stl_weights.py). A new series length — a service's window grows by one
    hourly point every hour — then costs a few ms instead of tens."""
    rows = len(xs)
    xs = xs.astype(float)[:, None]
    left_c, right_c = left[:, None], right[:, None]
    band = int((right - left).max()) + 1 if rows else 1
    start = np.minimum(left - 1, n - band)  # each row's band: distinct columns, within the series
    lines, cols = np.arange(rows)[:, None], start[:, None] + np.arange(band)[None, :]
    j = (cols + 1).astype(float)
    inside = (j >= left_c) & (j <= right_c)
    h = np.maximum(xs - left_c, right_c - xs)
    if width > n:
        h = h + (width - n) // 2
    r = np.abs(j - xs)
    with np.errstate(divide="ignore", invalid="ignore"):
        wb = np.where(r <= 0.001 * h, 1.0, (1.0 - (r / h) ** 3) ** 3)
    wb = np.where(inside & (r <= 0.999 * h), wb, 0.0)

    def row_sums(values: np.ndarray) -> np.ndarray:
        full = np.zeros((rows, n))
        full[lines, cols] = values
        return full.sum(axis=1, keepdims=True)

    total = row_sums(wb)
    with np.errstate(divide="ignore", invalid="ignore"):
        wb = wb / total
    if degree > 0:
        a = row_sums(wb * j)
        c = row_sums(wb * (j - a) ** 2)
        # A local line only where the window's positions are spread enough to fit one.
        tilt = (h > 0) & (np.sqrt(c) > 0.001 * (n - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            wb = np.where(tilt, wb * ((xs - a) / c * (j - a) + 1.0), wb)
    w = np.zeros((rows, n))
    w[lines, cols] = wb
    w[total[:, 0] <= 0] = np.nan
    return w


@lru_cache(maxsize=64)
def _smoother(n: int, width: int, degree: int) -> np.ndarray:
    """The matrix of statsmodels' ``_ess`` (every point estimated, jump 1) on ``n`` points;
    rows with no weighted point return the input (identity), as ``_ess`` does."""
    i = np.arange(n)
    if width >= n:
        left, right = np.ones(n, dtype=int), np.full(n, n)
    else:
        shift = np.minimum(np.maximum(0, i + 1 - (width + 2) // 2), n - width)
        left, right = 1 + shift, width + shift
    w = _weights(n, width, degree, i + 1, left, right)
    bad = np.isnan(w[:, 0])
    w[bad] = np.eye(n)[bad]
    w.flags.writeable = False
    return w


@lru_cache(maxsize=64)
def _cycle_smoother(k: int, width: int, degree: int) -> np.ndarray:
    """``(k + 2) x k``: smooth a cycle-subseries of ``k`` values and extend it one cycle back and
    one forward (statsmodels' ``_ss``)."""
    inner = _smoother(k, width, degree)
    ends = _weights(
        k,
        width,
        degree,
        np.array([0, k + 1]),
        np.array([1, max(1, k - width + 1)]),
        np.array([min(width, k), k]),
    )
    first = inner[0] if np.isnan(ends[0, 0]) else ends[0]
    last = inner[k - 1] if np.isnan(ends[1, 0]) else ends[1]
    out = np.vstack([first, inner, last])
    out.flags.writeable = False
    return out


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    return sliding_window_view(x, width).sum(axis=1) / float(width)


def stl(y: np.ndarray, period: int, seasonal: int = 11, seasonal_deg: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(seasonal, trend)`` of ``y`` as ``statsmodels.tsa.seasonal.STL(y, period, seasonal,
    seasonal_deg=seasonal_deg).fit()`` (default trend and low-pass windows, degree 1)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if period < 2 or seasonal < 3 or seasonal % 2 == 0:
        raise ValueError("STL needs a period >= 2 and an odd seasonal window >= 3")
    trend_width = math.ceil(1.5 * period / (1 - 1.5 / seasonal))
    trend_width += trend_width % 2 == 0
    low_pass = period + 1
    low_pass += low_pass % 2 == 0
    # Cycle-subseries j holds y[j], y[j + period], ...: at most two lengths among them.
    lengths = (n - 1 - np.arange(period)) // period + 1
    groups = [(int(k), np.flatnonzero(lengths == k)) for k in np.unique(lengths)]
    trend = np.zeros(n)
    season = np.zeros(n)
    extended = np.empty(n + 2 * period)
    for _ in range(INNER_PASSES):
        detrended = y - trend
        for k, columns in groups:
            index = columns[None, :] + period * np.arange(k)[:, None]
            smooth = _cycle_smoother(k, seasonal, seasonal_deg) @ detrended[index]
            extended[columns[None, :] + period * np.arange(k + 2)[:, None]] = smooth
        low = _moving_average(_moving_average(_moving_average(extended, period), period), 3)
        low = _smoother(n, low_pass, 1) @ low
        season = extended[period : period + n] - low
        trend = _smoother(n, trend_width, 1) @ (y - season)
    return season, trend
