"""Level shifts: find where a series jumped to a new level and align the past to the present one.

A deployment, a resized instance or a terminated worker moves a metric to a new level for good.
Every model that averages the past (seasonal profiles, exponential smoothing, the forest) would
keep forecasting the old level; aligning the older regimes to the current one keeps their
time-of-day shape and their noise while making their level right.
"""

from __future__ import annotations

from dataclasses import dataclass

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
# Steps checked against the week before, at most, per shift searched.
MAX_TRIED = 8


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


def _beyond(m: np.ndarray, cs: np.ndarray, end: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """For every split point c in ``cs``: does the level after c (until ``end``) lie outside the
    2 %-98 % range of the reference hours before c by more than that range's width, with at least
    80 % of the hours after c on the new side? And by how much did the median move?"""
    lo_c = int(cs[0])
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
    return shifted, level - _row_quantile(pre_sorted, pre_n, 0.5)


def _recurring(m: np.ndarray, cs: np.ndarray, deltas: np.ndarray, week: int) -> np.ndarray:
    """For every split point c: did the level make the same step (same direction, at least half
    the size) within an hour of the same time a week earlier? Steps are 3-hour medians after
    against 3-hour medians before. False where the week before is not in ``m``."""
    out = np.zeros(len(cs), dtype=bool)
    if len(m) < 2 * MIN_REGIME_HOURS + 1:
        return out
    med = np.median(np.lib.stride_tricks.sliding_window_view(m, MIN_REGIME_HOURS), axis=1)
    step = np.full(len(m), np.nan)
    step[MIN_REGIME_HOURS : len(med)] = med[MIN_REGIME_HOURS:] - med[: len(med) - MIN_REGIME_HOURS]
    at = cs - week
    known = at - 1 >= MIN_REGIME_HOURS
    if not known.any():
        return out
    near = step[at[known, None] + np.arange(-1, 2)[None, :]] * np.sign(deltas[known])[:, None]
    with np.errstate(invalid="ignore"):
        out[known] = np.nanmax(np.where(np.isnan(near), -np.inf, near), axis=1) >= 0.5 * np.abs(deltas[known])
    return out


def _last_shift(levels: _Levels, end: int) -> tuple[int, float] | None:
    """The strongest level shift in the hourly medians before ``end`` whose new level holds until
    ``end``.

    The test (``_beyond``) runs on the medians with the daily shape taken out, so a shift is judged
    against the hour-to-hour noise of the regime before it rather than against its daily swing and
    noise together (which hid a change of less than about twice the swing). What a deseasonalised
    test would also call a shift, and the models must not be aligned for, is the weekly pattern (a
    quieter weekend): a step counts only when it is larger than the daily swing, and not when the
    level made the same step at the same time a week earlier (where the history holds that week).
    Deliberately conservative: a false shift moves the whole past.
    """
    lo_c = max(MIN_REGIME_HOURS, end - SEARCH_HOURS)
    cs = np.arange(lo_c, end - MIN_REGIME_HOURS + 1)
    if len(cs) == 0:
        return None
    m = levels.deseasonalised
    shifted, deltas = _beyond(m, cs, end, levels.noise)
    shifted &= np.abs(deltas) > levels.swing
    if not shifted.any():
        return None
    # The strongest first. One that turns out to be the weekly pattern gives way to a later one
    # (a weekday shift after the weekend), never to an earlier one: an earlier level does not
    # hold until the end, the weekly step is in between.
    after = 0
    for _ in range(MAX_TRIED):
        shifted &= cs > after
        if not shifted.any():
            return None
        i = int(np.argmax(np.where(shifted, np.abs(deltas), -1.0)))
        c, delta = _refined(m, int(cs[i]), end, float(deltas[i]))
        # Checked where the step is, not at whichever split point had the largest median
        # difference (any split point with most of the new level after it passes the test).
        if not _recurring(m, np.array([c]), np.array([delta]), levels.week)[0]:
            return c, delta
        after = max(c, int(cs[i]))
    return None


def _refined(m: np.ndarray, c: int, end: int, delta: float) -> tuple[int, float]:
    """Medians let a split point land a few hours off the step: move back over hours that already
    sit at the new level, forward over hours still at the old one."""
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


@dataclass
class _Levels:
    """Hourly medians of a series without their daily shape, their hour-to-hour noise, the daily
    shape's range and the hours in a week."""

    deseasonalised: np.ndarray
    noise: float
    swing: float  # the daily shape's range: peak hour minus quietest hour
    week: int

    def move(self, before: int, delta: float) -> None:
        self.deseasonalised[:before] += delta


def _noise(m: np.ndarray) -> float:
    d = np.abs(np.diff(m))
    noise = float(np.median(d)) * 1.4826 if len(d) else 0.0
    return max(noise, 1e-9 * (1.0 + float(np.median(np.abs(m)))))


def _daily_shape(m: np.ndarray, per_day: int) -> np.ndarray:
    """Each hour's typical departure from the level of the day around it (the median over days
    at that time of day), at every hour of ``m``; zeros with fewer than 3 days or no daily grid."""
    if per_day < 2 or len(m) < 3 * per_day:
        return np.zeros(len(m))
    half = per_day // 2
    padded = np.concatenate([np.full(half, np.nan), m, np.full(per_day - half, np.nan)])
    windows = np.sort(np.lib.stride_tricks.sliding_window_view(padded, per_day)[: len(m)], axis=1)
    level = _row_quantile(windows, np.isfinite(windows).sum(axis=1), 0.5)
    # The newest whole days, one row each: column p holds the hours p, p + per_day, ... before
    # the end, the phase ``np.arange(-len(m), 0) % per_day`` gives every hour.
    full = len(m) // per_day * per_day
    shape = np.median((m - level)[len(m) - full :].reshape(-1, per_day), axis=0)
    return shape[np.arange(-len(m), 0) % per_day]


def _align_hourly(y: np.ndarray, ctx: Context) -> np.ndarray:
    k = ctx.coarse
    if len(y) < k * (2 * MIN_REGIME_HOURS):
        return y
    m, offset = _hourly_medians(y, k)
    per_day = ctx.season // k if ctx.season % k == 0 else 0
    shape = _daily_shape(m, per_day)
    # Without a daily grid of hours there is no week to look back on either: every step is then
    # held to the swing (none: the raw test, as for a series without a daily shape).
    week = 7 * per_day if per_day >= 2 else len(m) + MAX_TRIED
    levels = _Levels(m - shape, _noise(m - shape), float(shape.max() - shape.min()), week)
    out = y
    end = len(m)
    for _ in range(MAX_SHIFTS):
        found = _last_shift(levels, end)
        if found is None:
            break
        c, delta = found
        if out is y:
            out = y.copy()
        new = float(np.median(levels.deseasonalised[c:end]))
        j = _native_boundary(y, offset + c * k, new - delta + shape[c], new + shape[c], k)
        # Everything before the shift moves by it, so the current regime is the reference.
        out[:j] += delta
        levels.move(c, delta)
        end = c
    return out
