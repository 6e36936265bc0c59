"""STL's LOESS weights computed on each row's band are the dense computation's, value for value
(NaN rows included), for every shape the smoothers use: full and partial windows, degree 0 and 1,
windows wider than the series, and the cycle smoother's two extension rows."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_ai_analytics.forecast._stl import _weights


def dense_weights(n: int, width: int, degree: int, xs: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """LOESS weights (one row per estimate at 1-based position ``xs`` from the points
    ``left..right``), as statsmodels' ``_est``; a row of NaN where no point has weight."""
    j = np.arange(1, n + 1, dtype=float)[None, :]
    xs = xs.astype(float)[:, None]
    inside = (j >= left[:, None]) & (j <= right[:, None])
    h = np.maximum(xs - left[:, None], right[:, None] - xs)
    if width > n:
        h = h + (width - n) // 2
    r = np.abs(j - xs)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(r <= 0.001 * h, 1.0, (1.0 - (r / h) ** 3) ** 3)
    w = np.where(inside & (r <= 0.999 * h), w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = w / total
    if degree > 0:
        a = (w * j).sum(axis=1, keepdims=True)
        c = (w * (j - a) ** 2).sum(axis=1, keepdims=True)
        # A local line only where the window's positions are spread enough to fit one.
        tilt = (h > 0) & (np.sqrt(c) > 0.001 * (n - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(tilt, w * ((xs - a) / c * (j - a) + 1.0), w)
    w[total[:, 0] <= 0] = np.nan
    return w


def smoother_rows(n: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i = np.arange(n)
    if width >= n:
        return i + 1, np.ones(n, dtype=int), np.full(n, n)
    shift = np.minimum(np.maximum(0, i + 1 - (width + 2) // 2), n - width)
    return i + 1, 1 + shift, width + shift


@pytest.mark.parametrize("n", [1, 2, 3, 7, 29, 48, 673])
@pytest.mark.parametrize("width", [3, 11, 37, 1001])
@pytest.mark.parametrize("degree", [0, 1])
def test_band_weights_equal_the_dense_ones(n: int, width: int, degree: int) -> None:
    xs, left, right = smoother_rows(n, width)
    band, dense = _weights(n, width, degree, xs, left, right), dense_weights(n, width, degree, xs, left, right)
    assert band.shape == dense.shape
    assert np.array_equal(band, dense, equal_nan=True)
    # the cycle smoother's rows one period before the first and after the last value
    ends = (np.array([0, n + 1]), np.array([1, max(1, n - width + 1)]), np.array([min(width, n), n]))
    assert np.array_equal(_weights(n, width, degree, *ends), dense_weights(n, width, degree, *ends), equal_nan=True)
