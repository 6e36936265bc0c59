"""Level shifts: find where a series jumped to a new level and align the past to the present one.

A deployment, a resized instance or a terminated worker moves a metric to a new level for good.
Every model that averages the past (seasonal profiles, exponential smoothing, the forest) would
keep forecasting the old level; aligning the older regimes to the current one keeps their
time-of-day shape and their noise while making their level right.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._series import Context

# A shift must hold for this many hours before it is believed (a shorter burst is an incident,
# which the interval, not the level, should absorb) ...
MIN_REGIME_HOURS = 3
# ... and is compared with this many hours before it.
REFERENCE_HOURS = 48
# Only shifts within this many hours of the end of each regime are searched (bounds the cost).
SEARCH_HOURS = 96
MAX_SHIFTS = 3


def _hourly_medians(y: np.ndarray, k: int) -> tuple[np.ndarray, int]:
    m = len(y) // k
    offset = len(y) - m * k
    return np.median(y[offset:].reshape(m, k), axis=1), offset


def _row_quantile(rows: np.ndarray, count: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of each sorted row's first ``count`` values (NaN padding sorts last);
    linear interpolation, as ``np.quantile``. ``np.nanquantile`` loops in Python per row."""
    pos = (count - 1) * q
    below = np.floor(pos).astype(int)
    above = np.minimum(below + 1, count - 1)
    r = np.arange(len(rows))
    frac = pos - below
    return rows[r, below] * (1 - frac) + rows[r, above] * frac


def _last_shift(m: np.ndarray, end: int, noise: float) -> tuple[int, float] | None:
    """The strongest level shift in ``m[:end]`` whose new level holds until ``end``.

    A shift at c counts when the median after c lies outside the 2 %-98 % range of the
    reference window before c by more than that range's width, and at least 80 % of the hours
    after c lie on the new side: deliberately conservative, since a false shift moves the whole
    past.
    """
    lo_c = max(MIN_REGIME_HOURS, end - SEARCH_HOURS)
    cs = np.arange(lo_c, end - MIN_REGIME_HOURS + 1)
    if len(cs) == 0:
        return None
    # All split points at once (this runs at every backtest origin): row i holds the hours
    # before and after cs[i], NaN-padded to a common width.
    post_idx = cs[:, None] + np.arange(end - lo_c)[None, :]
    post_ok = post_idx < end
    post = np.where(post_ok, m[np.minimum(post_idx, end - 1)], np.nan)
    pre_idx = cs[:, None] - REFERENCE_HOURS + np.arange(REFERENCE_HOURS)[None, :]
    pre = np.where(pre_idx >= 0, m[np.maximum(pre_idx, 0)], np.nan)
    pre_sorted, pre_n = np.sort(pre, axis=1), (pre_idx >= 0).sum(axis=1)
    post_sorted, count = np.sort(post, axis=1), post_ok.sum(axis=1)
    lo, hi = _row_quantile(pre_sorted, pre_n, 0.02), _row_quantile(pre_sorted, pre_n, 0.98)
    width = np.maximum(hi - lo, 4.0 * noise)
    level = _row_quantile(post_sorted, count, 0.5)
    with np.errstate(invalid="ignore"):
        above = ((post > hi[:, None]) & post_ok).sum(axis=1) / count
        below = ((post < lo[:, None]) & post_ok).sum(axis=1) / count
    shifted = ((level > hi + width) & (above >= 0.8)) | ((level < lo - width) & (below >= 0.8))
    if not shifted.any():
        return None
    deltas = level - _row_quantile(pre_sorted, pre_n, 0.5)
    i = int(np.argmax(np.where(shifted, np.abs(deltas), -1.0)))
    c, delta = int(cs[i]), float(deltas[i])
    # Medians let the strongest c land a few hours off the true one: move back over hours that
    # already sit at the new level, forward over hours still at the old one.
    new = float(np.median(m[c:end]))
    old = new - delta
    while c > 1 and abs(m[c - 1] - new) < abs(m[c - 1] - old):
        c -= 1
    while c < end - 1 and abs(m[c] - old) < abs(m[c] - new):
        c += 1
    return c, delta


def _native_boundary(y: np.ndarray, j: int, old: float, new: float, k: int) -> int:
    """Refine a shift at native index ``j`` (an hour boundary) to the sample where it happened."""
    lo, hi = max(1, j - k), min(len(y) - 1, j + k)
    while j > lo and abs(y[j - 1] - new) < abs(y[j - 1] - old):
        j -= 1
    while j < hi and abs(y[j] - old) < abs(y[j] - new):
        j += 1
    return j


def _recent_shift(y: np.ndarray, ctx: Context) -> tuple[int, float] | None:
    """A shift in the last few samples, too young for the hourly test: every one of the last
    (at least 4, and 20 minutes of) samples lies beyond the whole range of the two days before,
    by more than that range's 2 %-98 % width. A stationary series almost never does that; a
    stopped instance or a failed-over database does it at once."""
    k = ctx.coarse
    newest = MIN_REGIME_HOURS * k
    shortest = max(4, ctx.steps(pd.Timedelta(minutes=20)))
    if shortest >= newest or len(y) < newest + MIN_REGIME_HOURS * k:
        return None
    ref = y[max(0, len(y) - newest - REFERENCE_HOURS * k) : len(y) - newest]
    lo, hi = np.quantile(ref, [0.02, 0.98])
    width = hi - lo
    tail = y[len(y) - newest :][::-1]
    below = np.cumprod(tail < ref.min() - width)
    above = np.cumprod(tail > ref.max() + width)
    run = int(max(below.sum(), above.sum()))
    if run < shortest or run >= newest or width <= 0:
        return None
    return len(y) - run, float(np.median(y[len(y) - run :]) - np.median(ref))


def align_level_shifts(y: np.ndarray, ctx: Context) -> np.ndarray:
    """``y`` with each earlier regime moved (additively) to the level of the last one.

    Uses only ``y`` itself, so it can run at every backtest origin without look-ahead.
    """
    recent = _recent_shift(y, ctx)
    if recent is not None:
        j, delta = recent
        return np.concatenate([_align_hourly(y[:j], ctx) + delta, y[j:]])
    return _align_hourly(y, ctx)


def _align_hourly(y: np.ndarray, ctx: Context) -> np.ndarray:
    k = ctx.coarse
    if len(y) < k * (2 * MIN_REGIME_HOURS):
        return y
    m, offset = _hourly_medians(y, k)
    d = np.abs(np.diff(m))
    noise = float(np.median(d)) * 1.4826 if len(d) else 0.0
    noise = max(noise, 1e-9 * (1.0 + float(np.median(np.abs(m)))))
    out = y
    end = len(m)
    for _ in range(MAX_SHIFTS):
        found = _last_shift(m, end, noise)
        if found is None:
            break
        c, delta = found
        if out is y:
            out = y.copy()
        new = float(np.median(m[c:end]))
        j = _native_boundary(y, offset + c * k, new - delta, new, k)
        # Everything before the shift moves by it, so the current regime is the reference.
        out[:j] += delta
        m = m.copy()
        m[:c] += delta
        end = c
    return out
