"""Training (per-series selection by rolling-origin backtest, conformal intervals), prediction,
the JSON-safe state of a trained forecaster, and the operator-facing backtest.

Pure: a series in, a forecast out; no clock, no storage, no global state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from plugin_ai_analytics.domain import metric_spec
from plugin_ai_analytics.errors import InsufficientData, ModelIntegrityError, ValidationError

from ._candidates import CANDIDATES, Candidate, Context
from ._regimes import align_level_shifts
from ._scoring import accuracy, coverage, mase, seasonal_scale
from ._series import HOUR, Grid, min_history, prepare, require_history

STATE_FORMAT = "plugin-ai-analytics/forecaster"
STATE_VERSION = 2
# Version 1 states (no fitted parameters) still load: their members are refitted at each predict.
READABLE_VERSIONS = (1, 2)
FORECAST_COLUMNS = (
    "timestamp",
    "forecast",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "confidence",
    "clipped",
)

# Selection backtest: up to this many origins, half a horizon apart, the newest one horizon
# before the end. Overlapping origins give the conformal quantiles more (recent) residuals than
# one-per-horizon origins could, at the same history length.
MAX_ORIGINS = 6
# The chosen model alone is also run at older origins, up to this many in all, so its interval
# tails rest on a week rather than on the last three and a half days.
CALIBRATION_ORIGINS = 12
# Interval widths and confidence are estimated per block of horizon steps (pooling neighbours:
# 288 steps with 6 residuals each would give noisy quantiles).
HORIZON_BLOCKS = 12
# Combinations tried on top of the single candidates, over the best-ranked k singles.
COMBINATIONS = (("mean", 2), ("mean", 3), ("median", 3), ("median", 5))
# Racing: the expensive models are backtested newest origin first; from the third origin on, one
# whose mean scaled error over the origins so far exceeds the best model's over the same origins
# by more than RACE_MARGIN / sqrt(origins) (the noise of a mean shrinks so: 35 % after three)
# leaves the race: it stays out of the ranking for combinations, and its score is that of the
# origins it was run at. Cutting after two origins dropped eventual winners (2 of 72 series).
RACE_FROM = 3
RACE_MARGIN = 0.6
DEFAULT_HORIZON = pd.Timedelta(hours=24)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Forecast:
    """A forecast table plus the model that made it.

    ``frame`` has the columns ``timestamp, forecast, lower_80, upper_80, lower_95, upper_95,
    confidence, clipped``. ``confidence`` is the backtest accuracy % (100 x (1 - WAPE)) of this
    model at that horizon step; ``clipped`` says the point or a bound was moved into the
    metric's physical range.
    """

    frame: pd.DataFrame
    model: str
    metric: str | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, key: Any) -> Any:
        return self.frame[key]

    @property
    def columns(self) -> pd.Index:
        return self.frame.columns

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()


@dataclass(frozen=True)
class ModelScore:
    """Backtest figures of one candidate (or the chosen combination) on the training series."""

    mase: float
    accuracy: float
    coverage_80: float | None = None
    coverage_95: float | None = None
    origins: int | None = None  # backtest origins behind these figures (fewer: left the race)

    def to_dict(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "mase": self.mase,
            "accuracy": self.accuracy,
            "coverage_80": self.coverage_80,
            "coverage_95": self.coverage_95,
        }
        if self.origins is not None:
            out["origins"] = self.origins
        return out


# ---------------------------------------------------------------------------------------------
# Training


def _combine(forecasts: np.ndarray, how: str) -> np.ndarray:
    if how == "median":
        return np.median(forecasts, axis=0)
    return np.mean(forecasts, axis=0)


def _spec_name(members: Sequence[str], how: str) -> str:
    return members[0] if len(members) == 1 else f"{how}({', '.join(members)})"


def _block_of(horizon: int) -> np.ndarray:
    blocks = min(HORIZON_BLOCKS, horizon)
    return np.arange(horizon) * blocks // horizon


def _conformal_offsets(residuals: np.ndarray, alpha: float) -> tuple[float, float]:
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
class _Calibration:
    lower_80: np.ndarray
    upper_80: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray
    confidence: np.ndarray


def _calibrate(residuals: np.ndarray, actuals: np.ndarray) -> _Calibration:
    """Per-block interval offsets and confidence from backtest residuals ``(origins, horizon)``.

    The width grows with the horizon as each block's mean absolute residual says; the shape of
    the tails (how many mean errors out the 2.5 % and 97.5 % points lie) is pooled over the whole
    horizon. A tail quantile from one block alone rests on a few hours of a few days and comes
    out too narrow; the pooled one rests on every residual.
    """
    k, horizon = residuals.shape
    block = _block_of(horizon)
    nb = int(block.max()) + 1
    width = np.bincount(block, minlength=nb) * k
    absolute = np.abs(residuals)
    scale = np.bincount(block, weights=absolute.sum(axis=0), minlength=nb) / width
    overall = float(absolute.mean())
    scale = np.where(scale > 0, scale, overall)
    out = np.zeros((5, nb))
    if overall > 0:
        z = (residuals / scale[block]).ravel()
        lo80, hi80 = _conformal_offsets(z, 0.20)
        lo95, hi95 = _conformal_offsets(z, 0.05)
        out[0], out[1] = scale * lo80, scale * hi80
        out[2], out[3] = scale * min(lo95, lo80), scale * max(hi95, hi80)
    # Backtest accuracy per block: 100 x (1 - WAPE), as _scoring.accuracy.
    err = np.bincount(block, weights=absolute.sum(axis=0), minlength=nb)
    total = np.bincount(block, weights=np.abs(actuals).sum(axis=0), minlength=nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.maximum(0.0, 100.0 * (1.0 - err / total))
    out[4] = np.where(total > 0, acc, np.where(err == 0, 100.0, 0.0))
    return _Calibration(*out)


def _accuracies(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """``accuracy`` of each row (origin) at once."""
    err = np.abs(actual - forecast).sum(axis=1)
    total = np.abs(actual).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.maximum(0.0, 100.0 * (1.0 - err / total))
    return np.where(total > 0, acc, np.where(err == 0, 100.0, 0.0))


def _context(grid: Grid, end: int, horizon: int) -> Context:
    return Context(step=grid.step, horizon=horizon, t_last=grid.start + (end - 1) * grid.step)


def _origins(n: int, horizon: int, min_fit: int, count: int = MAX_ORIGINS) -> list[int]:
    stride = max(1, horizon // 2)
    origins = [n - horizon - j * stride for j in range(count)]
    return sorted(o for o in origins if o >= min_fit)


@dataclass(frozen=True)
class _Selection:
    members: tuple[str, ...]
    combine: str
    calibration: _Calibration
    scores: dict[str, ModelScore]
    chosen: ModelScore
    origins: int
    params: dict[str, dict[str, Any]]


def _loo_coverage(residuals: np.ndarray, actuals: np.ndarray) -> tuple[float, float] | tuple[None, None]:
    """Coverage when each origin's intervals are calibrated on the other origins only: an honest
    estimate of what the stated 80 %/95 % will deliver, not the in-sample fit.

    All origins at once: what ``_calibrate`` would give on each leave-one-out set, without its
    confidence part (coverage does not use it)."""
    k, horizon = residuals.shape
    if k < 2:
        return None, None
    block = _block_of(horizon)
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
        ctx = _context(self._grid, origin, self._horizon)
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


def _select(grid: Grid, horizon: int, pool: Sequence[str]) -> _Selection:
    y = grid.values
    n = len(y)
    ctx0 = _context(grid, n, horizon)
    min_fit = max(ctx0.season, horizon)
    origins = _origins(n, horizon, min_fit)
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
        runs.forecast(name, _origins(n, horizon, need, CALIBRATION_ORIGINS)[0])
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
        c80, c95 = _loo_coverage(a - f, a)
        return ModelScore(
            mase=score(forecasts[name], at),
            accuracy=float(np.mean(_accuracies(a, f))),
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
        s = score(_combine(np.stack([forecasts[m] for m in members]), how))
        # A combination must earn its extra cost by a clear margin, not by noise.
        if s < best[0] * 0.99:
            best = (s, members, how)
    _, members, how = best
    combined = _combine(np.stack([forecasts[m] for m in members]), how)
    need = max(min_fit, *(CANDIDATES[m].min_steps(ctx0) for m in members))
    older = [o for o in _origins(n, horizon, need, CALIBRATION_ORIGINS) if o < origins[0]]
    cal_actual, cal_forecast = actual, combined
    if older:
        extra = [_combine(np.stack([runs.forecast(m, o) for m in members]), how) for o in older]
        cal_actual = np.vstack([np.stack([y[o : o + horizon] for o in older]), actual])
        cal_forecast = np.vstack([np.stack(extra), combined])
    c80, c95 = _loo_coverage(cal_actual - cal_forecast, cal_actual)
    chosen = ModelScore(
        mase=score(combined),
        accuracy=float(np.mean(_accuracies(actual, combined))),
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
    return _Selection(
        members=members,
        combine=how,
        calibration=_calibrate(cal_actual - cal_forecast, cal_actual),
        scores={name: model_score(name) for name in usable},
        chosen=chosen,
        origins=len(origins) + len(older),
        params=params,
    )


def _horizon_steps(horizon: pd.Timedelta, step: pd.Timedelta) -> int:
    return max(1, math.ceil(horizon / step))


def _check_horizon(horizon: pd.Timedelta) -> pd.Timedelta:
    horizon = pd.Timedelta(horizon)
    if horizon <= pd.Timedelta(0) or horizon > pd.Timedelta(days=31):
        raise ValidationError("horizon must be between 1 second and 31 days", field="horizon")
    return horizon


def train(
    series: pd.Series,
    *,
    horizon: pd.Timedelta = DEFAULT_HORIZON,
    metric: str | None = None,
    candidates: Sequence[str] | None = None,
) -> TrainedForecaster:
    """Choose and calibrate a forecaster for ``series`` from backtests on its own history.

    ``candidates`` restricts the pool (default: every model in ``CANDIDATES``). Raises
    ``InsufficientData`` (with ``needed_hours``) when the history is too short to check a
    forecast, ``ValidationError`` for a malformed series, horizon, metric or candidate name.
    """
    horizon = _check_horizon(horizon)
    if metric is not None:
        try:
            metric_spec(metric)
        except KeyError as exc:
            raise ValidationError(str(exc.args[0]), field="metric") from None
    pool = list(CANDIDATES) if candidates is None else list(candidates)
    unknown = [c for c in pool if c not in CANDIDATES]
    if unknown or not pool:
        raise ValidationError(f"unknown candidate model(s): {unknown}", field="candidates")
    grid = prepare(series, horizon)
    require_history(grid, horizon)
    steps = _horizon_steps(horizon, grid.step)
    if len(grid.values) < steps + max(steps, _context(grid, len(grid.values), steps).season):
        # Enough samples in total but spread so thin the grid is short (coarse step vs horizon).
        raise InsufficientData(
            f"insufficient data: need {math.ceil(min_history(horizon) / HOUR)} hours of history on a regular grid",
            needed_hours=math.ceil(min_history(horizon) / HOUR),
        )
    sel = _select(grid, steps, pool)
    return TrainedForecaster(
        horizon=horizon,
        step=grid.step,
        metric=metric,
        members=sel.members,
        combine=sel.combine,
        calibration=sel.calibration,
        scores=sel.scores,
        chosen=sel.chosen,
        backtest_origins=sel.origins,
        trained_on=(grid.start, grid.last, grid.observed),
        params=sel.params,
    )


# ---------------------------------------------------------------------------------------------
# The trained forecaster


@dataclass(frozen=True)
class TrainedForecaster:
    """A chosen model spec with its calibrated intervals and, for the statistical members, the
    parameters fitted on the training history, which ``predict`` applies to the latest history
    without refitting (other members, and states without parameters, are refitted at predict).

    Holds plain numbers and names only, so its state is small, JSON-safe and can never execute
    code when loaded.
    """

    horizon: pd.Timedelta
    step: pd.Timedelta
    metric: str | None
    members: tuple[str, ...]
    combine: str
    calibration: _Calibration = field(repr=False)
    scores: dict[str, ModelScore] = field(repr=False)
    chosen: ModelScore
    backtest_origins: int
    trained_on: tuple[pd.Timestamp, pd.Timestamp, int]
    params: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def model(self) -> str:
        """The chosen model's display name, e.g. ``median(theta, seasonal_median, naive)``."""
        return _spec_name(self.members, self.combine)

    @property
    def horizon_steps(self) -> int:
        return _horizon_steps(self.horizon, self.step)

    def predict(self, series: pd.Series) -> Forecast:
        """Forecast ``horizon`` after the last timestamp of ``series`` (the latest history)."""
        grid = prepare(series, self.horizon, step=self.step)
        y = grid.values
        h = self.horizon_steps
        ctx = _context(grid, len(y), h)
        need = max(CANDIDATES[m].min_steps(ctx) for m in self.members)
        if len(y) < need:
            more = math.ceil((need - len(y)) * self.step / HOUR)
            raise InsufficientData(
                f"insufficient data: need {more} more hours of history for model {self.model}",
                needed_hours=more,
            )
        history = align_level_shifts(y, ctx)
        point = _combine(np.stack([self._member_forecast(m, history, ctx) for m in self.members]), self.combine)
        block = _block_of(h)
        cal = self.calibration
        table = {
            "forecast": point,
            "lower_80": point + cal.lower_80[block],
            "upper_80": point + cal.upper_80[block],
            "lower_95": point + cal.lower_95[block],
            "upper_95": point + cal.upper_95[block],
        }
        clipped = np.zeros(h, dtype=bool)
        if self.metric is not None:
            spec = metric_spec(self.metric)
            lo = spec.lower
            hi = spec.upper if spec.upper is not None else np.inf
            for name, values in table.items():
                c = np.clip(values, lo, hi)
                clipped |= c != values
                table[name] = c
        frame = pd.DataFrame(
            {
                "timestamp": pd.DatetimeIndex(grid.last + self.step * np.arange(1, h + 1)),
                **table,
                "confidence": cal.confidence[block],
                "clipped": clipped,
            },
            columns=list(FORECAST_COLUMNS),
        )
        return Forecast(frame=frame, model=self.model, metric=self.metric)

    def _member_forecast(self, name: str, history: np.ndarray, ctx: Context) -> np.ndarray:
        cand = CANDIDATES[name]
        if name in self.params:
            out = cand.apply(history, ctx, self.params[name])
            if out is not None:
                return out
        return cand.forecast(history, ctx)

    # -- state -------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-safe description (str/int/float/bool/None/lists/dicts) of this forecaster."""
        cal = self.calibration
        start, end, samples = self.trained_on
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "horizon_seconds": int(self.horizon.total_seconds()),
            "step_seconds": int(self.step.total_seconds()),
            "metric": self.metric,
            "model": {
                "name": self.model,
                "members": list(self.members),
                "combine": self.combine,
                "params": {name: dict(p) for name, p in self.params.items()},
            },
            "intervals": {
                "lower_80": [float(v) for v in cal.lower_80],
                "upper_80": [float(v) for v in cal.upper_80],
                "lower_95": [float(v) for v in cal.lower_95],
                "upper_95": [float(v) for v in cal.upper_95],
            },
            "confidence": [float(v) for v in cal.confidence],
            "backtest": {
                "origins": self.backtest_origins,
                "chosen": self.chosen.to_dict(),
                "models": {name: s.to_dict() for name, s in self.scores.items()},
            },
            "trained_on": {"start": start.isoformat(), "end": end.isoformat(), "samples": int(samples)},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TrainedForecaster:
        """Rebuild from ``to_state()``; a malformed or foreign state raises ``ModelIntegrityError``."""
        try:
            if state["format"] != STATE_FORMAT or state["version"] not in READABLE_VERSIONS:
                raise ValueError(f"format {state['format']!r} version {state['version']!r}")
            members = tuple(str(m) for m in state["model"]["members"])
            combine = str(state["model"]["combine"])
            if not members or any(m not in CANDIDATES for m in members) or combine not in {"single", "mean", "median"}:
                raise ValueError(f"unknown model {members} / {combine}")
            horizon = pd.Timedelta(seconds=int(state["horizon_seconds"]))
            step = pd.Timedelta(seconds=int(state["step_seconds"]))
            if horizon <= pd.Timedelta(0) or step <= pd.Timedelta(0):
                raise ValueError("horizon and step must be positive")
            blocks = min(HORIZON_BLOCKS, _horizon_steps(horizon, step))
            arrays = [
                np.asarray(state["intervals"][k], dtype=float) for k in ("lower_80", "upper_80", "lower_95", "upper_95")
            ]
            arrays.append(np.asarray(state["confidence"], dtype=float))
            if any(a.shape != (blocks,) or not np.all(np.isfinite(a)) for a in arrays):
                raise ValueError("interval tables have the wrong length or non-finite values")
            metric = state["metric"]
            if metric is not None:
                metric_spec(metric)
            params = _check_params(state["model"].get("params", {}), members)
            bt = state["backtest"]
            scores = {name: ModelScore(**s) for name, s in bt["models"].items()}
            trained = state["trained_on"]
            return cls(
                horizon=horizon,
                step=step,
                metric=metric,
                members=members,
                combine=combine,
                calibration=_Calibration(*arrays),
                scores=scores,
                chosen=ModelScore(**bt["chosen"]),
                backtest_origins=int(bt["origins"]),
                trained_on=(
                    pd.Timestamp(trained["start"]),
                    pd.Timestamp(trained["end"]),
                    int(trained["samples"]),
                ),
                params=params,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"invalid forecaster state: {exc}") from None


def _check_params(raw: Any, members: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Stored fitted parameters: for members that keep them, flat dicts of finite numbers, None,
    short strings or lists of those (whether they fit a history is the model's own check)."""
    if not isinstance(raw, dict):
        raise ValueError("params must be an object")
    out: dict[str, dict[str, Any]] = {}
    for name, params in raw.items():
        if name not in members or not CANDIDATES[name].keeps_params or not isinstance(params, dict):
            raise ValueError(f"unexpected parameters for {name!r}")
        for key, value in params.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, str):
                    if len(v) > 16:
                        raise ValueError(f"{name}.{key} is not a parameter")
                elif v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)):
                    raise ValueError(f"{name}.{key} is not a finite number")
        out[name] = dict(params)
    return out


# ---------------------------------------------------------------------------------------------
# Operator-facing backtest


@dataclass(frozen=True)
class OriginResult:
    """One backtest origin: the forecast made from everything before ``origin`` and its scores."""

    origin: pd.Timestamp
    model: str
    mase: float
    accuracy: float
    coverage_80: float
    coverage_95: float
    forecast: pd.DataFrame = field(repr=False)
    actual: np.ndarray = field(repr=False)
    fit_seconds: float = 0.0  # wall clock of train + predict
    fit_cpu_seconds: float = 0.0  # CPU time of this process for the same (not inflated by load)

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin.isoformat(),
            "model": self.model,
            "mase": self.mase,
            "accuracy": self.accuracy,
            "coverage_80": self.coverage_80,
            "coverage_95": self.coverage_95,
        }


@dataclass(frozen=True)
class BacktestReport:
    """Per-origin and average scores of the engine on a series' last ``origins`` horizons."""

    horizon: pd.Timedelta
    origins: list[OriginResult]

    def _mean(self, attr: str) -> float:
        return float(np.mean([getattr(o, attr) for o in self.origins]))

    @property
    def mase(self) -> float:
        return self._mean("mase")

    @property
    def accuracy(self) -> float:
        return self._mean("accuracy")

    @property
    def coverage_80(self) -> float:
        return self._mean("coverage_80")

    @property
    def coverage_95(self) -> float:
        return self._mean("coverage_95")

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizon_seconds": int(self.horizon.total_seconds()),
            "origins": [o.to_dict() for o in self.origins],
            "average": {
                "mase": self.mase,
                "accuracy": self.accuracy,
                "coverage_80": self.coverage_80,
                "coverage_95": self.coverage_95,
            },
        }

    def format(self) -> str:
        """A plain-text table for the CLI."""
        lines = [f"{'origin':<26} {'model':<40} {'MASE':>6} {'acc %':>6} {'cov80':>6} {'cov95':>6}"]
        for o in self.origins:
            lines.append(
                f"{o.origin.isoformat():<26} {o.model[:40]:<40} {o.mase:>6.3f} {o.accuracy:>6.1f} "
                f"{o.coverage_80:>6.2f} {o.coverage_95:>6.2f}"
            )
        lines.append(
            f"{'average':<26} {'':<40} {self.mase:>6.3f} {self.accuracy:>6.1f} "
            f"{self.coverage_80:>6.2f} {self.coverage_95:>6.2f}"
        )
        return "\n".join(lines)


def backtest(
    series: pd.Series,
    *,
    horizon: pd.Timedelta = DEFAULT_HORIZON,
    origins: int = 3,
    metric: str | None = None,
    candidates: Sequence[str] | None = None,
) -> BacktestReport:
    """Score the engine as it runs in production on the last ``origins`` horizons of ``series``.

    For origin k (k = origins..1) everything before ``end - k * horizon`` is given to ``train``
    and ``predict``; the next ``horizon`` of the regularised series is the truth. MASE is scaled
    by the daily seasonal-naive error on that origin's history; accuracy = 100 x (1 - WAPE).
    """
    import time

    horizon = _check_horizon(horizon)
    if origins < 1:
        raise ValidationError("origins must be at least 1", field="origins")
    grid = prepare(series, horizon)
    h = _horizon_steps(horizon, grid.step)
    n = len(grid.values)
    season = _context(grid, n, h).season
    results = []
    clean = series.dropna()
    for k in range(origins, 0, -1):
        o = n - k * h
        if o <= 0:
            raise InsufficientData(
                f"insufficient data: need {math.ceil((1 - o) * grid.step / HOUR)} more hours for {origins} origins",
                needed_hours=math.ceil((1 - o) * grid.step / HOUR),
            )
        cut = grid.start + (o - 1) * grid.step
        # Samples binned into grid index o - 1 (up to half a step after it) belong to history.
        history = clean[clean.index <= cut + grid.step / 2]
        t0, c0 = time.perf_counter(), time.process_time()
        trained = train(history, horizon=horizon, metric=metric, candidates=candidates)
        fc = trained.predict(history)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        actual = grid.values[o : o + h]
        f = fc.frame
        results.append(
            OriginResult(
                origin=cut + grid.step,
                model=fc.model,
                mase=mase(actual, f["forecast"].to_numpy(), seasonal_scale(grid.values[:o], season)),
                accuracy=accuracy(actual, f["forecast"].to_numpy()),
                coverage_80=coverage(actual, f["lower_80"].to_numpy(), f["upper_80"].to_numpy()),
                coverage_95=coverage(actual, f["lower_95"].to_numpy(), f["upper_95"].to_numpy()),
                forecast=f,
                actual=actual,
                fit_seconds=seconds,
                fit_cpu_seconds=cpu,
            )
        )
    return BacktestReport(horizon=horizon, origins=results)
