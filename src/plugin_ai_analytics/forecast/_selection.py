"""Choosing a forecaster for one series: rolling-origin backtests of the candidates (the expensive
ones raced), combinations of the best, and the residuals the chosen model's intervals rest on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from plugin_ai_analytics.errors import InsufficientData

from ._calibration import Calibration, calibrate, local_volatility, loo_coverage, volatility_ratios
from ._candidates import CANDIDATES, Candidate
from ._regimes import align_level_shifts
from ._results import ModelScore
from ._scoring import accuracies, seasonal_scale
from ._series import HOUR, Context, Grid

__all__ = [
    "CALIBRATION_ORIGINS",
    "COMBINATIONS",
    "MAX_ORIGINS",
    "RACE_FROM",
    "RACE_MARGIN",
    "Selection",
    "backtest_origins",
    "combine",
    "select",
    "spec_name",
]

# Selection backtest: up to this many origins, half a horizon apart, the newest one horizon
# before the end. Overlapping origins give the conformal quantiles more (recent) residuals than
# one-per-horizon origins could, at the same history length.
MAX_ORIGINS = 6
# The chosen model alone is also run at older origins, up to this many in all, so its interval
# tails rest on ten days rather than on the last three and a half (20 chosen leave-one-group-out
# over 12: BENCHMARKS.md).
CALIBRATION_ORIGINS = 20
# Combinations tried on top of the single candidates, over the best-ranked k singles.
COMBINATIONS = (("mean", 2), ("mean", 3), ("median", 3), ("median", 5))
# Racing: the expensive models are backtested newest origin first; from the third origin on, one
# whose mean scaled error over the origins so far exceeds the best model's over the same origins
# by more than RACE_MARGIN / sqrt(origins) (the noise of a mean shrinks so: 35 % after three)
# leaves the race: it stays out of the ranking for combinations, and its score is that of the
# origins it was run at. Cutting after two origins dropped eventual winners (2 of 72 series).
RACE_FROM = 3
RACE_MARGIN = 0.6


def combine(forecasts: np.ndarray, how: str) -> np.ndarray:
    if how == "median":
        return np.median(forecasts, axis=0)
    return np.mean(forecasts, axis=0)


def spec_name(members: Sequence[str], how: str) -> str:
    return members[0] if len(members) == 1 else f"{how}({', '.join(members)})"


def backtest_origins(n: int, horizon: int, min_fit: int, count: int = MAX_ORIGINS) -> list[int]:
    stride = max(1, horizon // 2)
    origins = [n - horizon - j * stride for j in range(count)]
    return sorted(o for o in origins if o >= min_fit)


@dataclass(frozen=True)
class Selection:
    """What ``select`` chose: the members and how they combine, their intervals, every
    candidate's backtest figures, and the fitted parameters predict will apply."""

    members: tuple[str, ...]
    combine: str
    calibration: Calibration
    scores: dict[str, ModelScore]
    chosen: ModelScore
    origins: int
    params: dict[str, dict[str, Any]]


class _Runs:
    """Forecasts of the candidates at backtest origins, as production will run them.

    A model whose parameters predict keeps (theta, mstl) is fitted once, at the oldest origin it
    will be run at, and applied with those parameters fixed at the later ones: trained once, then
    predicting from the samples that arrive until the next retraining, the way
    ``TrainedForecaster.predict`` runs it. Every other model is refitted at each origin, as predict
    refits it.
    Parameters are only ever applied at or after the origin they were fitted at (no look-ahead);
    where they do not apply (e.g. the history has since grown a daily season) the model is
    refitted there. Level-shift alignment and forecasts are computed once per origin and model.
    """

    def __init__(self, grid: Grid, horizon: int) -> None:
        self._grid = grid
        self._horizon = horizon
        self._histories: dict[int, np.ndarray] = {}
        self._forecasts: dict[tuple[str, int], np.ndarray] = {}
        self._fits: dict[str, list[tuple[int, Any]]] = {}

    def history(self, origin: int) -> tuple[np.ndarray, Context]:
        ctx = self._grid.context(origin, self._horizon)
        if origin not in self._histories:
            self._histories[origin] = align_level_shifts(self._grid.values[:origin], ctx)
        return self._histories[origin], ctx

    def forecast(self, name: str, origin: int) -> np.ndarray:
        key = (name, origin)
        if key not in self._forecasts:
            self._forecasts[key] = self._run(CANDIDATES[name], origin)
        return self._forecasts[key]

    def _run(self, cand: Candidate, origin: int) -> np.ndarray:
        history, ctx = self.history(origin)
        if not cand.reusable:
            return cand.forecast(history, ctx)
        fits = self._fits.setdefault(cand.name, [])
        usable = [(at, params) for at, params in fits if at <= origin and params is not None]
        if usable:
            out = cand.apply(history, ctx, max(usable, key=lambda f: f[0])[1])
            if out is not None:
                return out
        out, params = cand.fit(history, ctx)
        fits.append((origin, params))
        return out


def select(
    grid: Grid,
    horizon: int,
    pool: Sequence[str],
    *,
    selection_origins: int = MAX_ORIGINS,
    calibration_origins: int = CALIBRATION_ORIGINS,
    volatility_hours: float = 0.0,
    tail_scale: float = 1.0,
) -> Selection:
    """Backtest the pool, choose the model (or combination), calibrate its intervals.

    ``selection_origins``: origins the candidates are ranked on; ``calibration_origins``: origins
    behind the intervals (at least as many); ``volatility_hours`` > 0 normalises the
    residuals by the local volatility of the history before each origin (0: off);
    ``tail_scale`` multiplies the tail probabilities the conformal ranks aim at (below 1: wider).
    """
    y = grid.values
    n = len(y)
    ctx0 = grid.context(n, horizon)
    min_fit = max(ctx0.season, horizon)
    calibration_origins = max(calibration_origins, selection_origins)
    origins = backtest_origins(n, horizon, min_fit, selection_origins)
    if not origins:
        raise InsufficientData("insufficient data: no backtest origin fits", needed_hours=None)
    usable = [name for name in pool if CANDIDATES[name].min_steps(ctx0) <= origins[0]]
    if not usable:
        # Only long-history models in the pool: backtest them on the origins they can reach.
        need = min(CANDIDATES[name].min_steps(ctx0) for name in pool)
        origins = [o for o in origins if o >= need]
        if not origins:
            more = math.ceil((need - (n - horizon)) * grid.step / HOUR)
            raise InsufficientData(
                f"insufficient data: need {more} more hours of history for {', '.join(pool)}",
                needed_hours=more,
            )
        usable = [name for name in pool if CANDIDATES[name].min_steps(ctx0) <= origins[0]]
    runs = _Runs(grid, horizon)
    actual = np.stack([y[o : o + horizon] for o in origins])
    scales = np.array([seasonal_scale(y[:o], ctx0.season) for o in origins])
    forecasts: dict[str, np.ndarray] = {name: np.full((len(origins), horizon), np.nan) for name in usable}

    def score(f: np.ndarray, at: np.ndarray | list[int] | None = None) -> float:
        """Mean over origins (all, or those at ``at``) of the scaled mean absolute error."""
        if at is None:
            return float(np.mean(np.mean(np.abs(actual - f), axis=1) / scales))
        return float(np.mean(np.mean(np.abs(actual[at] - f[at]), axis=1) / scales[at]))

    cheap = [name for name in usable if not CANDIDATES[name].expensive]
    racing = [name for name in usable if CANDIDATES[name].expensive]
    for name in cheap:
        for i, o in enumerate(origins):
            forecasts[name][i] = runs.forecast(name, o)
    for name in (r for r in racing if CANDIDATES[r].reusable):
        # Fit where the calibration backtest would start for this model, so its parameters
        # serve every later origin (selection and calibration alike).
        need = max(min_fit, CANDIDATES[name].min_steps(ctx0))
        runs.forecast(name, backtest_origins(n, horizon, need, calibration_origins)[0])
    run_at: dict[str, int] = {name: len(origins) for name in usable}
    done: list[int] = []
    for i in reversed(range(len(origins))):
        for name in racing:
            forecasts[name][i] = runs.forecast(name, origins[i])
        done.append(i)
        if RACE_FROM <= len(done) < len(origins) and racing:
            partial = {name: score(forecasts[name], done) for name in cheap + racing}
            best = min(partial.values())
            margin = 1.0 + RACE_MARGIN / math.sqrt(len(done))
            for name in [r for r in racing if partial[r] > best * margin]:
                racing.remove(name)
                run_at[name] = len(done)
    rows = {name: np.arange(len(origins) - run_at[name], len(origins)) for name in usable}

    def model_score(name: str) -> ModelScore:
        at = rows[name]
        f, a = forecasts[name][at], actual[at]
        c80, c95 = loo_coverage(a - f, a)
        return ModelScore(
            mase=score(forecasts[name], at),
            accuracy=float(np.mean(accuracies(a, f))),
            coverage_80=c80,
            coverage_95=c95,
            origins=len(at),
        )

    full = [name for name in usable if run_at[name] == len(origins)]
    single = {name: score(forecasts[name]) for name in full}
    # On a tie (a constant series: every model is exact) the cheapest family wins.
    cost = {"baseline": 0, "statistical": 1, "ml": 2}
    ranked = sorted(single, key=lambda name: (single[name], cost[CANDIDATES[name].family], name))
    best: tuple[float, tuple[str, ...], str] = (single[ranked[0]], (ranked[0],), "single")
    for how, k in COMBINATIONS:
        if len(ranked) < k:
            continue
        members = tuple(ranked[:k])
        s = score(combine(np.stack([forecasts[m] for m in members]), how))
        # A combination must earn its extra cost by a clear margin, not by noise.
        if s < best[0] * 0.99:
            best = (s, members, how)
    _, members, how = best
    combined = combine(np.stack([forecasts[m] for m in members]), how)
    need = max(min_fit, *(CANDIDATES[m].min_steps(ctx0) for m in members))
    older = [o for o in backtest_origins(n, horizon, need, calibration_origins) if o < origins[0]]
    cal_actual, cal_forecast = actual, combined
    if older:
        extra = [combine(np.stack([runs.forecast(m, o) for m in members]), how) for o in older]
        cal_actual = np.vstack([np.stack([y[o : o + horizon] for o in older]), actual])
        cal_forecast = np.vstack([np.stack(extra), combined])
    cal_residuals = cal_actual - cal_forecast
    vol_steps = ctx0.steps(volatility_hours * HOUR) if volatility_hours > 0 else 0
    ratios, reference = None, 0.0
    if vol_steps:
        vols = np.array([local_volatility(runs.history(o)[0], vol_steps, ctx0.season) for o in [*older, *origins]])
        ratios, reference = volatility_ratios(vols)
        if reference <= 0:
            ratios, vol_steps = None, 0
    norm = cal_residuals if ratios is None else cal_residuals / ratios[:, None]
    c80, c95 = loo_coverage(norm, cal_actual, tail_scale=tail_scale)
    chosen = ModelScore(
        mase=score(combined),
        accuracy=float(np.mean(accuracies(actual, combined))),
        coverage_80=c80,
        coverage_95=c95,
    )
    # The parameters predict will apply: fitted on the whole (aligned) history.
    history, ctx = runs.history(n)
    params = {}
    for m in members:
        cand = CANDIDATES[m]
        if cand.keeps_params:
            kept = cand.fit(history, ctx)[1]
            if kept is not None:
                params[m] = kept
    return Selection(
        members=members,
        combine=how,
        calibration=replace(
            calibrate(cal_residuals, cal_actual, tail_scale=tail_scale, ratios=ratios),
            volatility_steps=vol_steps,
            volatility_reference=reference,
        ),
        scores={name: model_score(name) for name in usable},
        chosen=chosen,
        origins=len(origins) + len(older),
        params=params,
    )
