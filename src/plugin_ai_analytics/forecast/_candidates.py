"""The candidate forecasters the engine chooses from, each a pure function of past values.

A candidate sees only the history it is given (``y`` up to the forecast origin) and returns a
point forecast for the next ``ctx.horizon`` grid steps. Adding a model here puts it through the
selection backtest and the conformance tests automatically.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._forest import random_forest
from ._series import HOUR, Context
from ._statistical import (
    mstl_apply,
    mstl_fit,
    mstl_forecast,
    ses_forecast,
    theta_apply,
    theta_fit,
    theta_forecast,
)

# Context is where candidates have always imported it from.
__all__ = ["CANDIDATES", "Candidate", "Context"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One forecaster: its id, family, the history it needs, and the function itself.

    A model with fitted parameters (``fit_fn``) can also forecast from new history with its
    parameters fixed (``apply_fn``, which returns None when they do not apply to that history, e.g.
    the seasonality it was fitted with no longer matches). ``keeps_params``: the parameters are
    small JSON-safe numbers a trained state can keep, so ``predict`` need not refit.
    """

    name: str
    family: str  # "baseline" | "statistical" | "ml"
    min_days: float  # history (days) needed before the origin
    fn: Callable[[np.ndarray, Context], np.ndarray]
    description: str
    expensive: bool = False  # milliseconds per fit, not microseconds: raced in the backtest
    fit_fn: Callable[[np.ndarray, Context], tuple[np.ndarray, Any]] | None = None
    apply_fn: Callable[[np.ndarray, Context, Any], np.ndarray | None] | None = None
    keeps_params: bool = False

    @property
    def reusable(self) -> bool:
        """Its fitted parameters can be applied to later history without refitting."""
        return self.fit_fn is not None and self.apply_fn is not None

    def min_steps(self, ctx: Context) -> int:
        return max(2, math.ceil(self.min_days * ctx.season))

    @staticmethod
    def _checked(out: Any, y: np.ndarray, ctx: Context) -> np.ndarray:
        out = np.asarray(out, dtype=float)
        if out.shape != (ctx.horizon,) or not np.all(np.isfinite(out)):
            # A model that cannot produce a sane path falls back to the last value rather than
            # handing NaN downstream: the backtest then scores it as what it really delivered.
            return np.full(ctx.horizon, float(y[-1]))
        return out

    def forecast(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        return self._checked(self.fn(y, ctx), y, ctx)

    def fit(self, y: np.ndarray, ctx: Context) -> tuple[np.ndarray, Any]:
        """The forecast from ``y`` and the parameters fitted on it (None for a model without)."""
        if self.fit_fn is None:
            return self.forecast(y, ctx), None
        out, params = self.fit_fn(y, ctx)
        return self._checked(out, y, ctx), params

    def apply(self, y: np.ndarray, ctx: Context, params: Any) -> np.ndarray | None:
        """The forecast from ``y`` with ``params`` fixed, or None when they do not apply to it."""
        if self.apply_fn is None or params is None:
            return None
        try:
            out = self.apply_fn(y, ctx, params)
        except Exception:  # noqa: BLE001 - statsforecast raises bare Exception for refused parameters
            return None  # parameters that do not fit this history: the caller refits, always valid
        return None if out is None else self._checked(out, y, ctx)


# ---------------------------------------------------------------------------------------------
# Baselines (numpy only, microseconds)


def _naive(y: np.ndarray, ctx: Context) -> np.ndarray:
    return np.full(ctx.horizon, y[-1])


def _window_median_1h(y: np.ndarray, ctx: Context) -> np.ndarray:
    # The median of the last hour is the last value without its 5-minute noise.
    return np.full(ctx.horizon, np.median(y[-ctx.steps(HOUR) :]))


def _window_mean_24h(y: np.ndarray, ctx: Context) -> np.ndarray:
    return np.full(ctx.horizon, np.mean(y[-ctx.season :]))


def _tile_day(profile: np.ndarray, horizon: int) -> np.ndarray:
    """``profile[s]`` is the value at the same time of day as history index ``n - season + s``."""
    return profile[np.arange(horizon) % len(profile)]


def _seasonal_naive(y: np.ndarray, ctx: Context) -> np.ndarray:
    return _tile_day(y[-ctx.season :], ctx.horizon)


def _daily_profile(y: np.ndarray, ctx: Context, days: int = 7, smooth: bool = True) -> np.ndarray:
    """Median over the last ``days`` days at each time of day, smoothed over an hour.

    The median ignores a day with an incident; the circular hourly smoothing removes the
    sampling noise that a single 5-minute slot still carries after a 7-sample median.
    """
    season = ctx.season
    k = max(1, min(days, len(y) // season))
    block = y[len(y) - k * season :].reshape(k, season)
    profile = np.median(block, axis=0)
    width = ctx.steps(HOUR)
    if smooth and width > 1 and season > width:
        padded = np.concatenate([profile[-width:], profile, profile[:width]])
        kernel = np.ones(width) / width
        smooth = np.convolve(padded, kernel, mode="same")
        profile = smooth[width:-width]
    return profile


def _seasonal_median(y: np.ndarray, ctx: Context) -> np.ndarray:
    return _tile_day(_daily_profile(y, ctx), ctx.horizon)


def _weekly_profile(y: np.ndarray, ctx: Context, weeks: int = 4) -> np.ndarray:
    """Median over the last ``weeks`` weeks at the same time of week, smoothed over an hour:
    weekends and weekday peaks that a daily profile averages away."""
    week = 7 * ctx.season
    k = max(1, min(weeks, len(y) // week))
    profile = np.median(y[len(y) - k * week :].reshape(k, week), axis=0)
    width = ctx.steps(HOUR)
    if width > 1 and week > width:
        padded = np.concatenate([profile[-width:], profile, profile[:width]])
        profile = np.convolve(padded, np.ones(width) / width, mode="same")[width:-width]
    return _tile_day(profile, ctx.horizon)


def _seasonal_median_sharp(y: np.ndarray, ctx: Context) -> np.ndarray:
    # Unsmoothed: keeps steps in the daily shape (a batch job starting on the minute) that the
    # hourly smoothing blurs, still ignoring a day with an incident as the median does.
    return _tile_day(_daily_profile(y, ctx, smooth=False), ctx.horizon)


def _window_mean_7d(y: np.ndarray, ctx: Context) -> np.ndarray:
    # A series without a daily shape or trend: the longest mean is the least noisy level.
    return np.full(ctx.horizon, np.mean(y[-7 * ctx.season :]))


def _seasonal_median_level(y: np.ndarray, ctx: Context) -> np.ndarray:
    # The daily shape from the last week, moved to the level of the last few hours: follows a
    # level shift at once while keeping the time-of-day pattern.
    profile = _daily_profile(y, ctx)
    w = min(ctx.steps(3 * HOUR), ctx.season)
    shift = np.median(y[-w:]) - np.median(profile[len(profile) - w :])
    return _tile_day(profile, ctx.horizon) + shift


def _seasonal_median_decay(y: np.ndarray, ctx: Context) -> np.ndarray:
    # The daily shape from the last week plus the last hour's deviation from it, fading as fast
    # as such deviations have faded: rho is the hour-to-hour autocorrelation of the hourly mean
    # deviations over the last week (an AR(1) on the deseasonalised series). A deviation that
    # persists (rho near 1) is carried like a level (seasonal_median_level); a burst's or a
    # jam's (rho small) is gone within hours and the profile takes over (seasonal_median).
    season = ctx.season
    profile = _daily_profile(y, ctx)
    n = min(len(y), 7 * season)
    deviation = y[len(y) - n :] - profile[np.arange(-n, 0) % season]
    w = ctx.steps(HOUR)
    m = len(deviation) // w
    hourly = deviation[len(deviation) - m * w :].reshape(m, w).mean(axis=1)
    rho = 0.0
    if m >= 3:
        a, b = hourly[:-1] - hourly[:-1].mean(), hourly[1:] - hourly[1:].mean()
        norm = math.sqrt(float((a * a).sum() * (b * b).sum()))
        rho = min(max(float((a * b).sum()) / norm, 0.0), 0.99) if norm > 0 else 0.0
    hours = np.arange(1, ctx.horizon + 1) / w
    return _tile_day(profile, ctx.horizon) + float(np.median(deviation[-w:])) * rho**hours


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate("naive", "baseline", 0.0, _naive, "the last value"),
        Candidate("window_median_1h", "baseline", 0.0, _window_median_1h, "median of the last hour"),
        Candidate("window_mean_24h", "baseline", 1.0, _window_mean_24h, "mean of the last 24 h"),
        Candidate("seasonal_naive", "baseline", 1.0, _seasonal_naive, "the same time yesterday"),
        Candidate(
            "seasonal_median",
            "baseline",
            1.0,
            _seasonal_median,
            "median of the last 7 days at this time of day",
        ),
        Candidate(
            "seasonal_median_sharp",
            "baseline",
            1.0,
            _seasonal_median_sharp,
            "median of the last 7 days at this time of day, unsmoothed",
        ),
        Candidate(
            "weekly_median",
            "baseline",
            7.0,
            _weekly_profile,
            "median of the last 4 weeks at this time of week, smoothed over an hour",
        ),
        Candidate("window_mean_7d", "baseline", 1.0, _window_mean_7d, "mean of the last 7 days"),
        Candidate(
            "seasonal_median_level",
            "baseline",
            1.0,
            _seasonal_median_level,
            "7-day daily profile moved to the level of the last 3 h",
        ),
        Candidate(
            "seasonal_median_decay",
            "baseline",
            1.0,
            _seasonal_median_decay,
            "7-day daily profile plus the last hour's deviation from it, fading as such deviations have",
        ),
        Candidate(
            "theta",
            "statistical",
            1.0,
            theta_forecast,
            "statsforecast DynamicOptimizedTheta, hourly",
            expensive=True,
            fit_fn=theta_fit,
            apply_fn=theta_apply,
            keeps_params=True,
        ),
        Candidate(
            "mstl",
            "statistical",
            1.0,
            mstl_forecast,
            "statsforecast MSTL with ETS trend, hourly",
            expensive=True,
            fit_fn=mstl_fit,
            apply_fn=mstl_apply,
            keeps_params=True,
        ),
        Candidate(
            "ses",
            "statistical",
            0.0,
            ses_forecast,
            "statsforecast simple exponential smoothing, hourly",
        ),
        Candidate(
            "random_forest",
            "ml",
            3.0,
            random_forest,
            "the seed's RandomForest + StandardScaler",
            expensive=True,
        ),
    )
}
