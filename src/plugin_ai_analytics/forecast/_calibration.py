"""Prediction intervals and confidence from backtest residuals: split-conformal offsets per block
of horizon steps, and the leave-one-origin-out coverage that says what they will deliver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._scoring import accuracy_from_sums

__all__ = [
    "HORIZON_BLOCKS",
    "VOLATILITY_MIN_STEPS",
    "VOLATILITY_RANGE",
    "Calibration",
    "block_of",
    "calibrate",
    "conformal_offsets",
    "local_volatility",
    "loo_coverage",
]

# Interval widths and confidence are estimated per block of horizon steps (pooling neighbours:
# 288 steps with 6 residuals each would give noisy quantiles).
HORIZON_BLOCKS = 12
# Local volatility (normalised conformal): the mean absolute step-to-step change over the last
# ``volatility_hours`` of history, at least this many steps of it ...
VOLATILITY_MIN_STEPS = 12
# ... and its ratio to the calibration origins' typical value is kept within this range, so one
# burst cannot blow an interval up (nor a quiet hour collapse it) beyond what the tails allow.
VOLATILITY_RANGE = (0.25, 4.0)


def block_of(horizon: int) -> np.ndarray:
    blocks = min(HORIZON_BLOCKS, horizon)
    return np.arange(horizon) * blocks // horizon


def conformal_offsets(residuals: np.ndarray, alpha: float) -> tuple[float, float]:
    """Split-conformal lower/upper offsets from signed residuals (actual - forecast).

    Each tail gets alpha/2 with the finite-sample correction ceil((n + 1)(1 - alpha/2)) / n, so
    the interval is not narrower than the residuals justify; both offsets keep the point inside.
    """
    r = np.sort(residuals)
    n = len(r)
    rank = min(n, math.ceil((n + 1) * (1 - alpha / 2)))
    upper = r[rank - 1]
    lower = r[n - rank]
    return min(float(lower), 0.0), max(float(upper), 0.0)


def _step_noise(history: np.ndarray, end: int, w: int) -> float:
    tail = np.asarray(history[max(0, end - w - 1) : end], dtype=float)
    return float(np.mean(np.abs(np.diff(tail)))) if len(tail) >= 2 else 0.0


def local_volatility(history: np.ndarray, steps: int, season: int = 0, days: int = 7) -> float:
    """How noisy the series is now: the mean absolute step-to-step change over the last ``steps``
    (at least ``VOLATILITY_MIN_STEPS``) of ``history``, relative (with ``season`` > 0) to its
    median over the same hours of the previous ``days`` days, so a series that is always calmer
    at night is not judged calm at night; 1.0 where there is no earlier day to compare with."""
    w = max(int(steps), VOLATILITY_MIN_STEPS)
    now = _step_noise(history, len(history), w)
    if season <= 0:
        return now
    past = [_step_noise(history, len(history) - d * season, w) for d in range(1, days + 1)]
    past = [v for v, d in zip(past, range(1, days + 1), strict=True) if len(history) - d * season > w]
    typical = float(np.median(past)) if past else 0.0
    return now / typical if typical > 0 else 1.0


@dataclass(frozen=True)
class Calibration:
    """Per-block offsets of the 80 % / 95 % bounds from the point, and the backtest accuracy %.

    With ``volatility_steps`` > 0 the offsets are in units of the calibration origins' typical
    local volatility (``volatility_reference``): ``predict`` multiplies them by the ratio of the
    latest history's local volatility to that reference (normalised conformal prediction).
    """

    lower_80: np.ndarray
    upper_80: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray
    confidence: np.ndarray
    volatility_steps: int = 0
    volatility_reference: float = 0.0

    def volatility_ratio(self, history: np.ndarray, season: int) -> float:
        """How much wider (or narrower) than calibrated the intervals are for ``history``."""
        if self.volatility_steps <= 0 or self.volatility_reference <= 0:
            return 1.0
        ratio = local_volatility(history, self.volatility_steps, season) / self.volatility_reference
        return float(np.clip(ratio, *VOLATILITY_RANGE))


def volatility_ratios(volatilities: np.ndarray) -> tuple[np.ndarray, float]:
    """Each origin's volatility relative to their median (clipped), and that median."""
    v = np.asarray(volatilities, dtype=float)
    reference = float(np.median(v)) if len(v) else 0.0
    if reference <= 0:
        return np.ones(len(v)), 0.0
    return np.clip(v / reference, *VOLATILITY_RANGE), reference


def calibrate(
    residuals: np.ndarray,
    actuals: np.ndarray,
    *,
    tail_scale: float = 1.0,
    ratios: np.ndarray | None = None,
) -> Calibration:
    """Per-block interval offsets and confidence from backtest residuals ``(origins, horizon)``.

    The width grows with the horizon as each block's mean absolute residual says; the shape of
    the tails (how many mean errors out the 2.5 % and 97.5 % points lie) is pooled over the whole
    horizon. A tail quantile from one block alone rests on a few hours of a few days and comes
    out too narrow; the pooled one rests on every residual.
    """
    k, horizon = residuals.shape
    block = block_of(horizon)
    nb = int(block.max()) + 1
    width = np.bincount(block, minlength=nb) * k
    raw = np.abs(residuals)
    if ratios is not None:
        residuals = residuals / np.asarray(ratios, dtype=float)[:, None]
    absolute = np.abs(residuals)
    a80, a95 = 0.20 * tail_scale, 0.05 * tail_scale
    scale = np.bincount(block, weights=absolute.sum(axis=0), minlength=nb) / width
    overall = float(absolute.mean())
    scale = np.where(scale > 0, scale, overall)
    out = np.zeros((5, nb))
    if overall > 0:
        z = (residuals / scale[block]).ravel()
        lo80, hi80 = conformal_offsets(z, a80)
        lo95, hi95 = conformal_offsets(z, a95)
        out[0], out[1] = scale * lo80, scale * hi80
        out[2], out[3] = scale * min(lo95, lo80), scale * max(hi95, hi80)
    # Backtest accuracy per block: the accuracy of the block's residuals pooled over the origins.
    err = np.bincount(block, weights=raw.sum(axis=0), minlength=nb)
    total = np.bincount(block, weights=np.abs(actuals).sum(axis=0), minlength=nb)
    out[4] = accuracy_from_sums(err, total)
    return Calibration(*out)


def loo_coverage(
    residuals: np.ndarray, actuals: np.ndarray, *, tail_scale: float = 1.0
) -> tuple[float, float] | tuple[None, None]:
    """Coverage when each origin's intervals are calibrated on the other origins only: an honest
    estimate of what the stated 80 %/95 % will deliver, not the in-sample fit.

    All origins at once: what ``calibrate`` would give on each leave-one-out set, without its
    confidence part (coverage does not use it)."""
    k, horizon = residuals.shape
    if k < 2:
        return None, None
    block = block_of(horizon)
    nb = int(block.max()) + 1
    keep = ~np.eye(k, dtype=bool)
    absolute = np.abs(residuals)
    per_row = np.stack([np.bincount(block, weights=row, minlength=nb) for row in absolute])
    width = np.bincount(block, minlength=nb) * (k - 1)
    scale = (per_row.sum(axis=0)[None, :] - per_row) / width  # (k, nb): without origin i
    overall = (absolute.sum() - absolute.sum(axis=1)) / ((k - 1) * horizon)
    scale = np.where(scale > 0, scale, overall[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.stack([(residuals[keep[i]] / scale[i][block]).ravel() for i in range(k)])
    z.sort(axis=1)
    n = z.shape[1]
    hits = []
    for alpha in (0.20 * tail_scale, 0.05 * tail_scale):
        rank = min(n, math.ceil((n + 1) * (1 - alpha / 2)))
        hits.append((np.minimum(z[:, n - rank], 0.0), np.maximum(z[:, rank - 1], 0.0)))
    (lo80, hi80), (lo95, hi95) = hits
    lo95, hi95 = np.minimum(lo95, lo80), np.maximum(hi95, hi80)
    zero = (overall <= 0)[:, None]
    bounds = []
    for lo, hi in ((lo80, hi80), (lo95, hi95)):
        lower = np.where(zero, 0.0, scale * lo[:, None])[:, block]
        upper = np.where(zero, 0.0, scale * hi[:, None])[:, block]
        bounds.append(float(np.mean((residuals >= lower) & (residuals <= upper))))
    return bounds[0], bounds[1]
