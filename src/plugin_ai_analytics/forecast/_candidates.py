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
from typing import Any

import numpy as np
import pandas as pd

from ._stl import stl

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


def _coarse_input(y: np.ndarray, ctx: Context, max_days: int = 28) -> tuple[int, np.ndarray, int, int]:
    """Native steps per coarse step, the coarse series, the coarse horizon, and the season the
    statistical models use on it (none below two full cycles, which cannot identify one)."""
    k = ctx.coarse
    season_c = max(1, round(ctx.season / k))
    yc = _to_coarse(y, k, max_days, ctx.season)
    hc = math.ceil(ctx.horizon / k) + 1
    return k, yc, hc, season_c if len(yc) >= 2 * season_c + 2 else 1


def _statistical(
    make: Callable[[int], Any],
    params_of: Callable[[Any, int], dict[str, Any] | None],
    restore: Callable[[Any, dict[str, Any]], None],
) -> tuple[
    Callable[[np.ndarray, Context], np.ndarray],
    Callable[[np.ndarray, Context], tuple[np.ndarray, Any]],
    Callable[[np.ndarray, Context, Any], np.ndarray | None],
]:
    """forecast / fit / apply of a statsforecast model on the coarse grid.

    ``fit`` optimises the model and returns its parameters (``params_of``); ``apply`` puts them
    back into a fresh model (``restore``) and runs its ``forward``: the same filter over the new
    history with no optimisation, so the same forecast as a refit when nothing new arrived.
    """

    def fit(y: np.ndarray, ctx: Context) -> tuple[np.ndarray, Any]:
        k, yc, hc, season = _coarse_input(y, ctx)
        if np.ptp(yc) == 0:
            return _from_coarse(float(yc[-1]), np.full(hc, yc[-1]), k, ctx.horizon), None
        model = make(season)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(y=yc)
            fc = np.asarray(model.predict(h=hc)["mean"], dtype=float)
        return _from_coarse(float(yc[-1]), fc, k, ctx.horizon), params_of(model, season)

    def forecast(y: np.ndarray, ctx: Context) -> np.ndarray:
        return fit(y, ctx)[0]

    def apply(y: np.ndarray, ctx: Context, params: Any) -> np.ndarray | None:
        k, yc, hc, season = _coarse_input(y, ctx)
        if np.ptp(yc) == 0:
            return _from_coarse(float(yc[-1]), np.full(hc, yc[-1]), k, ctx.horizon)
        if season != params["season"]:
            return None  # fitted without (or with) a daily season this history now has (lacks)
        model = make(season)
        restore(model, params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = np.asarray(model.forward(y=yc, h=hc)["mean"], dtype=float)
        return _from_coarse(float(yc[-1]), fc, k, ctx.horizon)

    return forecast, fit, apply


def _finite(values: list[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def _theta(season: int) -> Any:
    from statsforecast.models import DynamicOptimizedTheta

    return DynamicOptimizedTheta(season_length=season)


def _theta_params(model: Any, season: int) -> dict[str, Any] | None:
    par = model.model_["par"]
    values = [float(par["initial_smoothed"]), float(par["alpha"]), float(par["theta"])]
    if not _finite(values):
        return None
    return {"season": season, "initial_smoothed": values[0], "alpha": values[1], "theta": values[2]}


def _theta_restore(model: Any, params: dict[str, Any]) -> None:
    par = {key: float(params[key]) for key in ("initial_smoothed", "alpha", "theta")}
    model.model_ = {"m": int(params["season"]), "modeltype": "DOTM", "par": par}


class _MSTL:
    """statsforecast's ``MSTL(season_length, trend_forecaster=AutoETS(model="ZZN"))`` with one
    daily season (plain ``AutoETS`` without one): STL takes the season out, ETS forecasts the rest,
    the last cycle of the season is added back. The decomposition is ``_stl.stl``, the same STL
    statsforecast gets from statsmodels at a sixth of the cost."""

    def __init__(self, season: int) -> None:
        from statsforecast.models import AutoETS

        self.season = season
        self.ets = AutoETS(model="ZZN")

    def _split(self, y: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
        if self.season == 1:
            return y, np.zeros(h)
        seasonal, trend = stl(y, self.season)
        # As statsforecast.mstl: remainder = (y - seasonal) - trend, adjusted = trend + remainder.
        adjusted = trend + ((y - seasonal) - trend)
        ahead = np.tile(seasonal[-self.season :], math.trunc(1 + (h - 1) / self.season))[:h]
        return adjusted, ahead

    def fit(self, y: np.ndarray) -> _MSTL:
        self._y = y
        return self

    def predict(self, h: int) -> dict[str, np.ndarray]:
        adjusted, ahead = self._split(self._y, h)
        self.ets.fit(y=adjusted)
        self.anchor = _start_level(adjusted, self.season)
        return {"mean": np.asarray(self.ets.predict(h=h)["mean"], dtype=float) + ahead}

    def forward(self, y: np.ndarray, h: int) -> dict[str, np.ndarray]:
        """The kept ETS (form, smoothing parameters, initial state) on new history, with the
        initial level moved by as much as the start of the history moved.

        The initial state says where the history starts; level-shift alignment (a shift after
        training moves the whole past) and a sliding window move that start. The level and
        trend updates of every form ZZN picks are translation-equivariant in y (shift y and the
        initial level by c, every level shifts by c), so moving the initial level with the mean
        of the first day keeps the state consistent; with nothing new the move is 0 and the
        forecast is the fitted one. Kept unmoved, an ETS with alpha near 0 (a flat deseasonalised
        series) would forecast the pre-shift level until the next retraining."""
        adjusted, ahead = self._split(y, h)
        par = np.array(self.ets.model_["par"], dtype=float)
        par[4] += _start_level(adjusted, self.season) - self.anchor
        self.ets.model_ = {**self.ets.model_, "par": par}
        return {"mean": np.asarray(self.ets.forward(y=adjusted, h=h)["mean"], dtype=float) + ahead}


def _start_level(adjusted: np.ndarray, season: int) -> float:
    """Mean of the first day (first season, at least 24 coarse steps) of a history."""
    return float(np.mean(adjusted[: max(season, 24)]))


def _mstl(season: int) -> Any:
    return _MSTL(season)


def _mstl_params(model: Any, season: int) -> dict[str, Any] | None:
    ets = model.ets.model_
    par = [float(v) for v in np.asarray(ets["par"], dtype=float)]
    # Unused smoothing parameters (no trend, no damping) are NaN: JSON has no NaN, so None.
    return {
        "season": season,
        "components": str(ets["components"]),
        "par": [v if math.isfinite(v) else None for v in par],
        "n_params": int(ets["n_params"]),
        "m": int(ets["m"]),
        "anchor": model.anchor,
    }


def _mstl_restore(model: Any, params: dict[str, Any]) -> None:
    par = np.array([np.nan if v is None else float(v) for v in params["par"]], dtype=float)
    components = str(params["components"])
    if len(components) != 4 or len(par) < 5:
        raise ValueError(f"ETS parameters do not match components {components!r}")
    model.anchor = float(params["anchor"])
    model.ets.model_ = {
        "m": int(params["m"]),
        "components": components,
        "par": par,
        "n_params": int(params["n_params"]),
        "fit": None,
    }


def _ses(season: int) -> Any:
    from statsforecast.models import SimpleExponentialSmoothingOptimized

    return SimpleExponentialSmoothingOptimized()


def _coarse_model(make: Callable[[int], Any]) -> Callable[[np.ndarray, Context], np.ndarray]:
    def fn(y: np.ndarray, ctx: Context) -> np.ndarray:
        k, yc, hc, season = _coarse_input(y, ctx)
        if np.ptp(yc) == 0:
            fc = np.full(hc, yc[-1])
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = np.asarray(make(season).forecast(y=yc, h=hc)["mean"], dtype=float)
        return _from_coarse(float(yc[-1]), fc, k, ctx.horizon)

    return fn


_theta_forecast, _theta_fit, _theta_apply = _statistical(_theta, _theta_params, _theta_restore)
_mstl_forecast, _mstl_fit, _mstl_apply = _statistical(_mstl, _mstl_params, _mstl_restore)


# The seed's forest: StandardScaler + RandomForestRegressor(16 trees, depth 8, leaves >= 2,
# random_state 0). Fitted tree by tree through scikit-learn's own tree builder, with the seeds and
# bootstrap draws RandomForestRegressor makes, so the forest is the same one; the estimator's
# per-tree cloning and parameter checks cost twice the building itself at this size.
FOREST_TREES = 16
FOREST_DEPTH = 8
FOREST_LEAF = 2


def _forest_pipeline() -> Any:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        RandomForestRegressor(
            n_estimators=FOREST_TREES,
            max_depth=FOREST_DEPTH,
            min_samples_leaf=FOREST_LEAF,
            random_state=0,
            n_jobs=1,
        ),
    )


class _Forest:
    """A fitted forest: ``predict(X)`` as the sklearn pipeline above would after ``fit(X, y)``."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.preprocessing import StandardScaler

        self._scaler = StandardScaler().fit(x)
        try:
            self._trees: list[Any] | None = self._build(np.asarray(self._scaler.transform(x), dtype=np.float32), y)
            self._pipeline = None
        except (ImportError, TypeError, ValueError, AttributeError):
            # A scikit-learn whose private tree API differs: the public estimator, same forest.
            self._trees = None
            self._pipeline = _forest_pipeline().fit(x, y)

    @staticmethod
    def _build(x: np.ndarray, y: np.ndarray) -> list[Any]:
        from sklearn.tree._criterion import MSE
        from sklearn.tree._splitter import BestSplitter
        from sklearn.tree._tree import DepthFirstTreeBuilder, Tree

        n, features = x.shape
        target = np.ascontiguousarray(y, dtype=np.float64).reshape(-1, 1)
        seeds = np.random.RandomState(0)
        # Each tree draws its bootstrap sample and its splitter's seed from a fresh generator
        # seeded with the tree's seed; reseeding one generator gives the same streams 70x faster
        # than constructing one.
        stream = np.random.RandomState(0)
        trees = []
        for _ in range(FOREST_TREES):
            seed = seeds.randint(np.iinfo(np.int32).max)
            stream.seed(seed)
            weight = np.bincount(stream.randint(0, n, n), minlength=n).astype(np.float64)
            stream.seed(seed)
            splitter = BestSplitter(MSE(1, n), features, FOREST_LEAF, 0.0, stream, None)
            tree = Tree(features, np.ones(1, dtype=np.intp), 1)
            DepthFirstTreeBuilder(splitter, 2 * FOREST_LEAF, FOREST_LEAF, 0.0, FOREST_DEPTH, 0.0).build(
                tree, x, target, weight, None
            )
            trees.append(tree)
        return trees

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self._trees is None:
            return np.asarray(self._pipeline.predict(x), dtype=float)  # type: ignore[union-attr]
        z = np.asarray(self._scaler.transform(x), dtype=np.float32)
        out = np.zeros(len(z))
        for tree in self._trees:
            out += tree.predict(z).reshape(len(z), -1)[:, 0]
        return out / len(self._trees)


def _forest_design(y: np.ndarray, ctx: Context) -> tuple[int, np.ndarray, int, int, Callable[[np.ndarray], np.ndarray]]:
    """Coarse series, horizon and lag of the forest, and its features of coarse index ``t``:
    time of day, weekday, the value ``lag`` earlier and the mean of the day before that."""
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

    return k, yc, hc, lag, features


def _random_forest(y: np.ndarray, ctx: Context) -> np.ndarray:
    """The seed's model: RandomForestRegressor behind a StandardScaler over time-of-day,
    weekday and the metric's own previous 24 h window (direct, so no forecast feeds another).

    Refitted at every origin and every predict: its trees are too large to keep in a state, and
    trees fitted days earlier forecast worse than the refit predict will run (measured), so a
    backtest of fixed trees would misjudge it."""
    k, yc, hc, lag, features = _forest_design(y, ctx)
    m = len(yc)
    train_t = np.arange(lag, m)
    if len(train_t) < 2 * max(1, round(ctx.season / k)):
        return np.full(ctx.horizon, y[-1])
    fc = _Forest(features(train_t), yc[train_t]).predict(features(np.arange(m, m + hc)))
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
            "theta",
            "statistical",
            1.0,
            _theta_forecast,
            "statsforecast DynamicOptimizedTheta, hourly",
            expensive=True,
            fit_fn=_theta_fit,
            apply_fn=_theta_apply,
            keeps_params=True,
        ),
        Candidate(
            "mstl",
            "statistical",
            1.0,
            _mstl_forecast,
            "statsforecast MSTL with ETS trend, hourly",
            expensive=True,
            fit_fn=_mstl_fit,
            apply_fn=_mstl_apply,
            keeps_params=True,
        ),
        Candidate(
            "ses",
            "statistical",
            0.0,
            _coarse_model(_ses),
            "statsforecast simple exponential smoothing, hourly",
        ),
        Candidate(
            "random_forest",
            "ml",
            3.0,
            _random_forest,
            "the seed's RandomForest + StandardScaler",
            expensive=True,
        ),
    )
}
