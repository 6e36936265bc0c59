"""Learning a metric's baseline from a block of past samples at once instead of one sample at a time.

The histories are rebuilt exactly as streaming would hold them (they depend on the values only);
each detector's raw scores are computed vectorised at about 1000 positions, in runs of consecutive
samples, and fill its calibrator, so the calibrated state is close to what streaming would have
reached while the work is a small fraction of it. Used by ``PluginDetector.learn_history``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .detectors import LevelShift, SeasonalBaseline, SubsequenceDiscord, robust_location_scale

__all__ = [
    "RUN_LENGTH",
    "discord_scores",
    "fisher_surprises",
    "level_shift_scores",
    "scored_positions",
    "seasonal_scores",
    "seasonal_slots",
]

# A calibrator keeps its first 1000 scores, then every 4th (the oldest dropping out): what it
# holds after s scores starts at score (s - 1000) / 4 and spans at most 4000 samples.
CALIBRATION_CAPACITY = 1000
CALIBRATION_STRIDE = 4
# Positions are scored in runs of consecutive samples: runs share their candidate windows, and
# the sustained signal is a mean over SUSTAINED_SPAN consecutive fused surprises.
RUN_LENGTH = 16
# Robust scales over a week of history move slowly: computed once per run (or every SCALE_GRID
# positions) and held in between; every position exact would cost 16 times more.
SCALE_GRID = 16


def scored_positions(first: int, count: int) -> np.ndarray:
    """Positions in ``[first, count)`` whose raw scores fill the calibrators, oldest first.

    The same span and weight as what a streaming calibrator holds after scoring positions
    ``first..count-1``: every position while it has fewer than 1000 scores, one in four after
    (here as runs of RUN_LENGTH every 4 x RUN_LENGTH, the last run ending at the newest sample).
    """
    seen = count - first
    if seen <= CALIBRATION_CAPACITY:
        return np.arange(max(first, 0), count)
    sparse_from = first + CALIBRATION_CAPACITY
    dropped = (seen - CALIBRATION_CAPACITY) // CALIBRATION_STRIDE
    if dropped >= CALIBRATION_CAPACITY:
        sparse_from = count - CALIBRATION_CAPACITY * CALIBRATION_STRIDE
    every = RUN_LENGTH * CALIBRATION_STRIDE
    # Each run sits in the middle of its stretch of `every` samples, as the scores streaming
    # keeps are spread over it: the newest run ends (every - RUN_LENGTH) / 2 samples before the
    # end, so an incident in the very last samples is not weighted four times.
    newest_end = count - (every - RUN_LENGTH) // 2
    ends = np.arange(newest_end, sparse_from + RUN_LENGTH - 1, -every)[::-1]
    sparse = (ends[:, None] - RUN_LENGTH + np.arange(RUN_LENGTH)[None, :]).ravel()
    dense = np.arange(first + dropped, min(first + CALIBRATION_CAPACITY, sparse[0] if len(sparse) else count))
    return np.concatenate([dense, sparse])


def _runs(positions: np.ndarray) -> list[np.ndarray]:
    """Split sorted positions into groups of at most RUN_LENGTH close positions (shared windows)."""
    if len(positions) == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) > 1) + 1
    groups = []
    for run in np.split(positions, breaks):
        groups.extend(run[i : i + RUN_LENGTH] for i in range(0, len(run), RUN_LENGTH))
    return groups


def held_robust_scale(values: np.ndarray, ends: np.ndarray, window: int, grid: int = SCALE_GRID) -> np.ndarray:
    """Robust scale of ``values[end - window : end]`` for each end, computed on a grid of ends.

    Each end uses the grid point at or before it (causal); ``grid=1`` is exact.
    """
    held = np.where(ends >= grid, ends - ends % grid, ends)
    unique, inverse = np.unique(held, return_inverse=True)
    scales = np.array([robust_location_scale(values[max(0, e - window) : e])[1] for e in unique])
    return scales[inverse]


def _min_over_columns(block: Callable[[int, int], np.ndarray], first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Per row r, the minimum of ``block(lo, hi)[r]`` over the columns j in [first[r], last[r]].

    The rows of a run share almost all their columns: the shared core needs no mask; only the
    few columns at either edge that some rows may not use are masked.
    """
    core_lo, core_hi = int(first.max()), int(last.min())
    lo, hi = int(first.min()), int(last.max())
    spans = [(lo, hi + 1)] if core_lo > core_hi else [(lo, core_lo), (core_hi + 1, hi + 1)]
    best = np.full(len(first), np.inf) if core_lo > core_hi else block(core_lo, core_hi + 1).min(axis=1)
    for a, b in spans:
        if b > a:
            cols = np.arange(a, b)[None, :]
            valid = (cols >= first[:, None]) & (cols <= last[:, None])
            best = np.minimum(best, np.where(valid, block(a, b), np.inf).min(axis=1))
    return best


def discord_scores(
    values: np.ndarray,
    positions: np.ndarray,
    det: SubsequenceDiscord,
    scales: dict[int, float] | None = None,
    exact_scale: bool = False,
) -> np.ndarray:
    """The discord's raw score of ``values[k]`` for each position k (its history: the values before k).

    The distances are exact for m = 1; longer shapes use the dot-product form of the squared
    distance on centred values (all ~2000 candidate windows of a run of positions in one matrix
    product), exact up to rounding. The history's robust scale is computed at the start of each
    run and held over it (``exact_scale``: at every position); ``scales`` shares those between
    the discords of one history.
    """
    capacity, m = det.history.capacity, det.m
    scales = {} if scales is None else scales
    out = np.empty(len(positions))
    at = 0
    if m > 1:
        centred = values - np.median(values)  # distances do not move; rounding errors shrink
        stride = centred.strides[0]
        windows = as_strided(centred, shape=(len(centred) - m + 1, m), strides=(stride, stride))
        energy = np.einsum("ij,ij->i", windows, windows)
    for run in _runs(positions):
        n = np.minimum(run, capacity)
        if m == 1:  # exact: the same differences as the detector's
            query = values[run][:, None]
            d = _min_over_columns(lambda a, b, q=query: np.abs(values[a:b][None, :] - q), run - n, run - 1)
            dist = np.sqrt(d * d)
        else:
            # Window j (values j..j+m-1) is a candidate for the query ending at k when it lies in
            # k's history and ends at least m samples before k: k - n <= j <= k - 2m + 1.
            queries = windows[run - m + 1]

            def block(a: int, b: int, queries: np.ndarray = queries) -> np.ndarray:
                g = queries @ windows[a:b].T
                g *= -2.0
                g += energy[a:b][None, :]
                return g

            d2 = _min_over_columns(block, run - n, run - 2 * m + 1) + energy[run - m + 1]
            dist = np.sqrt(np.maximum(d2, 0.0) / m)
        for i, k in enumerate(run.tolist()):
            key = k if exact_scale else int(run[0])
            if key not in scales:
                scales[key] = robust_location_scale(values[max(0, key - capacity) : key])[1]
            out[at + i] = dist[i] / scales[key]
        at += len(run)
    return out


def level_shift_scores(values: np.ndarray, positions: np.ndarray, det: LevelShift, grid: int = 4) -> np.ndarray:
    """LevelShift's raw score of ``values[k]`` for each position k.

    The median of the newest samples is exact; the reference window's median and scale are
    computed every ``grid`` positions and held (``grid=1``: exact), vectorised where the history
    is full (one partition over all those reference windows).
    """
    capacity, recent = det.history.capacity, det.recent
    out = np.empty(len(positions))
    full = positions >= capacity + grid
    for i in np.flatnonzero(~full):  # short histories: the detector's own formula
        k = int(positions[i])
        hist = values[max(0, k - capacity) : k]
        ref = hist[: len(hist) - recent + 1]
        med, scale = robust_location_scale(ref)
        now = np.sort(values[k - recent + 1 : k + 1])
        mid = recent // 2
        now_med = float(now[mid]) if recent % 2 else 0.5 * (float(now[mid - 1]) + float(now[mid]))
        out[i] = abs(now_med - med) / scale
    k = positions[full]
    if len(k):
        stride = values.strides[0]
        width = capacity - recent + 1
        held, inverse = np.unique(k - k % grid, return_inverse=True)
        refs = as_strided(values, shape=(len(values) - width + 1, width), strides=(stride, stride))[held - capacity]
        half = width // 2
        if width % 2:
            med = np.partition(refs, half, axis=1)[:, half]
        else:
            part = np.partition(refs, (half - 1, half), axis=1)
            med = 0.5 * (part[:, half - 1] + part[:, half])
        dev = np.abs(refs - med[:, None])
        if width % 2:
            mad = np.partition(dev, half, axis=1)[:, half]
        else:
            part = np.partition(dev, (half - 1, half), axis=1)
            mad = 0.5 * (part[:, half - 1] + part[:, half])
        scale = 1.4826 * mad
        for j in np.flatnonzero(scale <= 0.0):  # flat reference: the detector's fallbacks
            scale[j] = robust_location_scale(refs[j])[1]
        nows = as_strided(values, shape=(len(values) - recent + 1, recent), strides=(stride, stride))
        now = np.sort(nows[k - recent + 1], axis=1)
        mid = recent // 2
        now_med = now[:, mid] if recent % 2 else 0.5 * (now[:, mid - 1] + now[:, mid])
        out[full] = np.abs(now_med - med[inverse]) / scale[inverse]
    return out


def seasonal_slots(
    det: SeasonalBaseline, slots: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Replay the seasonal baseline over its slot sequence and fill its history and residuals.

    ``slots`` holds the value of each slot the baseline sees (NaN where streaming imputes: a
    missing sample or a gap in time), ``present`` marks slots it learns. Imputation is what
    ``skip`` does (the expected value once ready, else the last value), period by period: a
    slot only depends on slots at least one period earlier. Returns, per slot, the expected
    value (NaN before ready) and the residual count before it, the residuals and, per slot,
    the filled values.
    """
    period, lags, capacity = det.period, det.lags, det.history.capacity
    s = np.asarray(slots, dtype=float).copy()
    total = len(s)
    t = np.arange(total)
    first_ready = period + 1 if capacity >= period + 1 else total
    expected = np.full(total, np.nan)
    head = min(total, first_ready)
    if head:  # not ready yet: a missing slot repeats the last value
        known = ~np.isnan(s[:head])
        s[:head] = s[:head][np.maximum.accumulate(np.where(known, t[:head], 0))]
    for b0 in range(first_ready, total, period):
        tb = t[b0 : b0 + period]
        lagged = [s[np.maximum(tb - k * period, 0)] for k in range(1, lags + 1)]  # used where >= 0
        have = [tb - k * period >= 0 for k in range(1, lags + 1)]
        e = lagged[0].copy()
        if lags >= 2:
            two = have[1]
            lo, hi = np.minimum(lagged[0], lagged[1]), np.maximum(lagged[0], lagged[1])
            e = np.where(two, 0.5 * (lo + hi), e)
            if lags >= 3:
                three = have[2]
                mid = np.maximum(lo, np.minimum(hi, lagged[2]))
                e = np.where(three, mid, e)
            if lags > 3:
                raise ValueError("seasonal baselines use at most 3 lags")
        expected[b0 : b0 + period] = e
        missing = np.isnan(s[b0 : b0 + period])
        s[b0 : b0 + period][missing] = e[missing]
    learns = present & ~np.isnan(expected)
    residuals = (s - expected)[learns]
    before = np.cumsum(learns) - learns
    det.history.extend(s[-capacity:])
    det.residuals.extend(residuals[-det.residuals.capacity :])
    return expected, before, residuals, s


def seasonal_scores(
    det: SeasonalBaseline,
    at: np.ndarray,
    expected: np.ndarray,
    before: np.ndarray,
    residuals: np.ndarray,
    filled: np.ndarray,
    grid: int = SCALE_GRID,
) -> np.ndarray:
    """The seasonal baseline's raw score at slots ``at`` (ready ones), from ``seasonal_slots``:
    0 until 10 residuals are known, then |x - expected| over the residuals' robust scale (held
    on a grid of residual counts; ``grid=1``: exact)."""
    raws = np.zeros(len(at))
    known = before[at] >= 10
    if known.any():
        slot = at[known]
        scale = held_robust_scale(residuals, before[slot], det.residuals.capacity, grid)
        raws[known] = np.abs(filled[slot] - expected[slot]) / scale
    return raws


_LN10 = math.log(10.0)


def fisher_surprises(surprises: np.ndarray) -> np.ndarray:
    """``fisher_surprise`` of each row of ``surprises`` (positions x detectors), vectorised."""
    k = surprises.shape[1]
    y = _LN10 * surprises.sum(axis=1)
    safe = np.maximum(y, 1e-300)
    i = np.arange(k)
    terms = i[None, :] * np.log(safe)[:, None] - np.array([math.lgamma(j + 1) for j in i])[None, :]
    top = terms.max(axis=1)
    log_tail = -y + top + np.log(np.exp(terms - top[:, None]).sum(axis=1))
    return np.where(y <= 0.0, 0.0, np.maximum(0.0, -log_tail / _LN10))
