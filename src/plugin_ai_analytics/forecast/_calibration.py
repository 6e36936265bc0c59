"""Prediction intervals and confidence from backtest residuals: split-conformal offsets per block
of horizon steps, and the leave-one-origin-out coverage that says what they will deliver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._scoring import accuracy_from_sums

__all__ = ["HORIZON_BLOCKS", "Calibration", "block_of", "calibrate", "conformal_offsets", "loo_coverage"]

# Interval widths and confidence are estimated per block of horizon steps (pooling neighbours:
# 288 steps with 6 residuals each would give noisy quantiles).
HORIZON_BLOCKS = 12


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


@dataclass(frozen=True)
class Calibration:
    """Per-block offsets of the 80 % / 95 % bounds from the point, and the backtest accuracy %."""

    lower_80: np.ndarray
    upper_80: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray
    confidence: np.ndarray


def calibrate(residuals: np.ndarray, actuals: np.ndarray) -> Calibration:
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
    absolute = np.abs(residuals)
    scale = np.bincount(block, weights=absolute.sum(axis=0), minlength=nb) / width
    overall = float(absolute.mean())
    scale = np.where(scale > 0, scale, overall)
    out = np.zeros((5, nb))
    if overall > 0:
        z = (residuals / scale[block]).ravel()
        lo80, hi80 = conformal_offsets(z, 0.20)
        lo95, hi95 = conformal_offsets(z, 0.05)
        out[0], out[1] = scale * lo80, scale * hi80
        out[2], out[3] = scale * min(lo95, lo80), scale * max(hi95, hi80)
    # Backtest accuracy per block: the accuracy of the block's residuals pooled over the origins.
    err = np.bincount(block, weights=absolute.sum(axis=0), minlength=nb)
    total = np.bincount(block, weights=np.abs(actuals).sum(axis=0), minlength=nb)
    out[4] = accuracy_from_sums(err, total)
    return Calibration(*out)


def loo_coverage(residuals: np.ndarray, actuals: np.ndarray) -> tuple[float, float] | tuple[None, None]:
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
    for alpha in (0.20, 0.05):
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
