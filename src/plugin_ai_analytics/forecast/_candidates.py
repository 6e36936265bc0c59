"""The candidate forecasters the engine chooses from, each a pure function of past values.

A candidate sees only the history it is given (``y`` up to the forecast origin) and returns a
point forecast for the next ``ctx.horizon`` grid steps. Adding a model here puts it through the
selection backtest and the conformance tests automatically.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Context:
    """What a candidate knows besides the values: the grid's geometry and the clock of ``y[-1]``."""

    step: pd.Timedelta
    horizon: int  # steps to forecast
    t_last: pd.Timestamp  # timestamp of the last history value

    @property
    def season(self) -> int:
        """Steps per day (the daily cycle every server metric shares), at least 1."""
        return max(1, round(DAY / self.step))

    @property
    def coarse(self) -> int:
        """Native steps per coarse (about hourly) step used by the heavier models."""
        return max(1, round(HOUR / self.step))

    def steps(self, span: pd.Timedelta) -> int:
        return max(1, round(span / self.step))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One forecaster: its id, family, the history it needs, and the function itself."""

    name: str
    family: str  # "baseline" | "statistical" | "ml"
    min_days: float  # history (days) needed before the origin
    fn: Callable[[np.ndarray, Context], np.ndarray]
    description: str

    def min_steps(self, ctx: Context) -> int:
        return max(2, math.ceil(self.min_days * ctx.season))

    def forecast(self, y: np.ndarray, ctx: Context) -> np.ndarray:
        out = np.asarray(self.fn(y, ctx), dtype=float)
        if out.shape != (ctx.horizon,) or not np.all(np.isfinite(out)):
            # A model that cannot produce a sane path falls back to the last value rather than
            # handing NaN downstream: the backtest then scores it as what it really delivered.
            return np.full(ctx.horizon, float(y[-1]))
        return out


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


def _daily_profile(y: np.ndarray, ctx: Context, days: int = 7) -> np.ndarray:
    """Median over the last ``days`` days at each time of day, smoothed over an hour.

    The median ignores a day with an incident; the circular hourly smoothing removes the
    sampling noise that a single 5-minute slot still carries after a 7-sample median.
    """
    season = ctx.season
    k = max(1, min(days, len(y) // season))
    block = y[len(y) - k * season :].reshape(k, season)
    profile = np.median(block, axis=0)
    width = ctx.steps(HOUR)
    if width > 1 and season > width:
        padded = np.concatenate([profile[-width:], profile, profile[:width]])
        kernel = np.ones(width) / width
        smooth = np.convolve(padded, kernel, mode="same")
        profile = smooth[width:-width]
    return profile


def _seasonal_median(y: np.ndarray, ctx: Context) -> np.ndarray:
    return _tile_day(_daily_profile(y, ctx), ctx.horizon)


def _seasonal_median_level(y: np.ndarray, ctx: Context) -> np.ndarray:
    # The daily shape from the last week, moved to the level of the last few hours: follows a
    # level shift at once while keeping the time-of-day pattern.
    profile = _daily_profile(y, ctx)
    w = min(ctx.steps(3 * HOUR), ctx.season)
    shift = np.median(y[-w:]) - np.median(profile[len(profile) - w :])
    return _tile_day(profile, ctx.horizon) + shift


# ---------------------------------------------------------------------------------------------
# Statistical and ML models, fitted on an about-hourly grid: 5-minute noise carries nothing a
# 24 h forecast can use, and a 12x shorter series makes them fast enough to backtest.


def _to_coarse(y: np.ndarray, k: int, max_days: int, season: int) -> np.ndarray:
    m = min(len(y) // k, max_days * max(1, season // k))
    return y[len(y) - m * k :].reshape(m, k).mean(axis=1)


def _from_coarse(last_coarse: float, fc: np.ndarray, k: int, horizon: int) -> np.ndarray:
    """Linear interpolation between coarse-bucket centres back onto the native grid."""
    if k == 1:
        return fc[:horizon]
    centre = (k - 1) / 2.0
    xp = np.concatenate([[centre - k], centre + k * np.arange(len(fc))])
    fp = np.concatenate([[last_coarse], fc])
    return np.interp(np.arange(horizon), xp, fp)


def _coarse_model(
    make: Callable[[int], object], max_days: int = 28
) -> Callable[[np.ndarray, Context], np.ndarray]:
    def fn(y: np.ndarray, ctx: Context) -> np.ndarray:
        k = ctx.coarse
        season_c = max(1, round(ctx.season / k))
        yc = _to_coarse(y, k, max_days, ctx.season)
        hc = math.ceil(ctx.horizon / k) + 1
        if np.ptp(yc) == 0:
            fc = np.full(hc, yc[-1])
        else:
            # Less than two full cycles cannot identify a seasonal pattern; go non-seasonal.
            season_used = season_c if len(yc) >= 2 * season_c + 2 else 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = np.asarray(make(season_used).forecast(y=yc, h=hc)["mean"], dtype=float)  # type: ignore[attr-defined]
        return _from_coarse(float(yc[-1]), fc, k, ctx.horizon)

    return fn


def _theta(season: int) -> object:
    from statsforecast.models import DynamicOptimizedTheta

    return DynamicOptimizedTheta(season_length=season)


def _mstl(season: int) -> object:
    from statsforecast.models import MSTL, AutoETS

    if season == 1:
        return AutoETS(model="ZZN")
    return MSTL(season_length=season, trend_forecaster=AutoETS(model="ZZN"))


def _ses(season: int) -> object:
    from statsforecast.models import SimpleExponentialSmoothingOptimized

    return SimpleExponentialSmoothingOptimized()


def _random_forest(y: np.ndarray, ctx: Context) -> np.ndarray:
    """The seed's model: RandomForestRegressor behind a StandardScaler over time-of-day,
    weekday and the metric's own previous 24 h window (direct, so no forecast feeds another)."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    k = ctx.coarse
    season_c = max(1, round(ctx.season / k))
    yc = _to_coarse(y, k, 28, ctx.season)
    m = len(yc)
    hc = math.ceil(ctx.horizon / k) + 1
    # Every feature of a target at t comes from t - lag or earlier, with lag >= the horizon.
    lag = season_c * max(1, math.ceil(hc / season_c))
    coarse_step = ctx.step * k
    t_end = ctx.t_last.value - (np.arange(m + hc)[::-1] - hc) * coarse_step.value
    times = pd.DatetimeIndex(t_end, tz="UTC")
    hours = times.hour.to_numpy() + times.minute.to_numpy() / 60.0
    weekdays = times.weekday.to_numpy()
    full = np.concatenate([yc, np.full(hc, np.nan)])
    csum = np.concatenate([[0.0], np.cumsum(yc)])

    def features(t: np.ndarray) -> np.ndarray:
        src = t - lag
        lo = np.maximum(src - season_c + 1, 0)
        window_mean = (csum[src + 1] - csum[lo]) / (src + 1 - lo)
        return np.column_stack([hours[t], weekdays[t], full[src], window_mean])

    train_t = np.arange(lag, m)
    if len(train_t) < 2 * season_c:
        return np.full(ctx.horizon, y[-1])
    model = make_pipeline(
        StandardScaler(),
        # 16 shallow trees: refitted at every predict, so it must stay near 10 ms.
        RandomForestRegressor(n_estimators=16, max_depth=8, min_samples_leaf=2, random_state=0, n_jobs=1),
    )
    model.fit(features(train_t), yc[train_t])
    fc = model.predict(features(np.arange(m, m + hc)))
    return _from_coarse(float(yc[-1]), fc, k, ctx.horizon)


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
            "seasonal_median_level",
            "baseline",
            1.0,
            _seasonal_median_level,
            "7-day daily profile moved to the level of the last 3 h",
        ),
        Candidate(
            "theta", "statistical", 1.0, _coarse_model(_theta), "statsforecast DynamicOptimizedTheta, hourly"
        ),
        Candidate(
            "mstl", "statistical", 1.0, _coarse_model(_mstl), "statsforecast MSTL with ETS trend, hourly"
        ),
        Candidate(
            "ses",
            "statistical",
            0.0,
            _coarse_model(_ses),
            "statsforecast simple exponential smoothing, hourly",
        ),
        Candidate("random_forest", "ml", 3.0, _random_forest, "the seed's RandomForest + StandardScaler"),
    )
}
