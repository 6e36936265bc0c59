"""The about-hourly grid the statistical and ML models are fitted on, and the way back.

5-minute noise carries nothing a 24 h forecast can use, and a 12x shorter series makes those
models fast enough to backtest.
"""

from __future__ import annotations

import math

import numpy as np

from ._series import Context

__all__ = ["coarse_input", "from_coarse", "to_coarse"]


def to_coarse(y: np.ndarray, k: int, max_days: int, season: int) -> np.ndarray:
    m = min(len(y) // k, max_days * max(1, season // k))
    return y[len(y) - m * k :].reshape(m, k).mean(axis=1)


def from_coarse(last_coarse: float, fc: np.ndarray, k: int, horizon: int) -> np.ndarray:
    """Linear interpolation between coarse-bucket centres back onto the native grid."""
    if k == 1:
        return fc[:horizon]
    centre = (k - 1) / 2.0
    xp = np.concatenate([[centre - k], centre + k * np.arange(len(fc))])
    fp = np.concatenate([[last_coarse], fc])
    return np.interp(np.arange(horizon), xp, fp)


def coarse_input(y: np.ndarray, ctx: Context, max_days: int = 28) -> tuple[int, np.ndarray, int, int]:
    """Native steps per coarse step, the coarse series, the coarse horizon, and the season the
    statistical models use on it (none below two full cycles, which cannot identify one)."""
    k = ctx.coarse
    season_c = max(1, round(ctx.season / k))
    yc = to_coarse(y, k, max_days, ctx.season)
    hc = math.ceil(ctx.horizon / k) + 1
    return k, yc, hc, season_c if len(yc) >= 2 * season_c + 2 else 1
