"""The statsforecast models (Theta, MSTL with an ETS trend, simple exponential smoothing) as
candidates on the coarse grid: forecast, fit with parameters a state can keep, and apply them.

statsforecast (numba) takes seconds to import: each model imports it where it is built, so the
CLI and the API start without it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ._coarse import coarse_input, from_coarse
from ._series import Context
from ._stl import stl

__all__ = [
    "mstl_apply",
    "mstl_fit",
    "mstl_forecast",
    "ses_forecast",
    "theta_apply",
    "theta_fit",
    "theta_forecast",
]


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
        k, yc, hc, season = coarse_input(y, ctx)
        if np.ptp(yc) == 0:
            return from_coarse(float(yc[-1]), np.full(hc, yc[-1]), k, ctx.horizon), None
        model = make(season)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(y=yc)
            fc = np.asarray(model.predict(h=hc)["mean"], dtype=float)
        return from_coarse(float(yc[-1]), fc, k, ctx.horizon), params_of(model, season)

    def forecast(y: np.ndarray, ctx: Context) -> np.ndarray:
        return fit(y, ctx)[0]

    def apply(y: np.ndarray, ctx: Context, params: Any) -> np.ndarray | None:
        k, yc, hc, season = coarse_input(y, ctx)
        if np.ptp(yc) == 0:
            return from_coarse(float(yc[-1]), np.full(hc, yc[-1]), k, ctx.horizon)
        if season != params["season"]:
            return None  # fitted without (or with) a daily season this history now has (lacks)
        model = make(season)
        restore(model, params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = np.asarray(model.forward(y=yc, h=hc)["mean"], dtype=float)
        return from_coarse(float(yc[-1]), fc, k, ctx.horizon)

    return forecast, fit, apply


def _finite(values: list[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def _theta(season: int) -> Any:
    from statsforecast.models import DynamicOptimizedTheta  # start-up cost: see the module docstring

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
        from statsforecast.models import AutoETS  # start-up cost: see the module docstring

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
    # start-up cost: see the module docstring
    from statsforecast.models import SimpleExponentialSmoothingOptimized

    return SimpleExponentialSmoothingOptimized()


def _coarse_model(make: Callable[[int], Any]) -> Callable[[np.ndarray, Context], np.ndarray]:
    def fn(y: np.ndarray, ctx: Context) -> np.ndarray:
        k, yc, hc, season = coarse_input(y, ctx)
        if np.ptp(yc) == 0:
            fc = np.full(hc, yc[-1])
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = np.asarray(make(season).forecast(y=yc, h=hc)["mean"], dtype=float)
        return from_coarse(float(yc[-1]), fc, k, ctx.horizon)

    return fn


theta_forecast, theta_fit, theta_apply = _statistical(_theta, _theta_params, _theta_restore)
mstl_forecast, mstl_fit, mstl_apply = _statistical(_mstl, _mstl_params, _mstl_restore)
ses_forecast = _coarse_model(_ses)
