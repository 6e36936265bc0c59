"""The engine's two entry points: ``train`` (choose and calibrate a forecaster for one series)
and ``backtest`` (score the engine as production runs it on the series' last horizons).

Pure: a series in, a forecaster or a report out; no clock, no storage, no global state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import pandas as pd

from plugin_ai_analytics.domain import metric_spec
from plugin_ai_analytics.errors import InsufficientData, ValidationError

from ._candidates import CANDIDATES
from ._report import BacktestReport, OriginResult
from ._results import FORECAST_COLUMNS, Forecast, ModelScore
from ._scoring import accuracy, coverage, mase, seasonal_scale
from ._selection import CALIBRATION_ORIGINS, MAX_ORIGINS, select
from ._series import HOUR, check_horizon, horizon_steps, min_history, prepare, require_history
from ._trained import TrainedForecaster

# FORECAST_COLUMNS and the result types are re-exported: the service and older imports read them here.
__all__ = [
    "DEFAULT_HORIZON",
    "DEFAULT_POOL",
    "MODEL_POOLS",
    "FORECAST_COLUMNS",
    "BacktestReport",
    "Forecast",
    "ModelScore",
    "OriginResult",
    "TrainedForecaster",
    "backtest",
    "train",
]

DEFAULT_HORIZON = pd.Timedelta(hours=24)
# Local-volatility normalisation of the intervals: the window (hours) of the volatility estimate,
# 0 for off. Off: every leave-one-group-out fold of benchmarks/forecast.py chooses it, and so does
# the choice on all five groups (BENCHMARKS.md, issue 11); the online interval correction
# (_adaptive.py) is what widens the intervals of a plugin that became noisier.
VOLATILITY_HOURS = 0.0

# The pools of candidate models the service can train from (setting AI_ANALYTICS_FORECAST_MODELS).
# "baselines" (profiles, medians, means and their combinations) is the default: every
# leave-one-group-out fold chooses it over "all" (which adds theta, MSTL, SES and the seed's
# RandomForest) and it forecasts as well or better on the held-out group in four of five groups
# (BENCHMARKS.md, issue 11): on series unlike those the choice was made on, choosing among more
# flexible models by a few days of backtests overfits the backtests. "all" keeps every model.
MODEL_POOLS: dict[str, tuple[str, ...]] = {
    "baselines": tuple(c for c in CANDIDATES if CANDIDATES[c].family == "baseline"),
    "all": tuple(CANDIDATES),
}
DEFAULT_POOL = "baselines"


def train(
    series: pd.Series,
    *,
    horizon: pd.Timedelta = DEFAULT_HORIZON,
    metric: str | None = None,
    candidates: Sequence[str] | None = None,
    selection_origins: int = MAX_ORIGINS,
    calibration_origins: int = CALIBRATION_ORIGINS,
    volatility_hours: float = VOLATILITY_HOURS,
    tail_scale: float = 1.0,
) -> TrainedForecaster:
    """Choose and calibrate a forecaster for ``series`` from backtests on its own history.

    ``candidates`` is the pool (default: ``MODEL_POOLS[DEFAULT_POOL]``, the baselines). The interval
    and selection tunables (``selection_origins``, ``calibration_origins``, ``volatility_hours``,
    ``tail_scale``) are those of
    ``_selection.select``; their defaults are the choices of the leave-one-group-out benchmark
    (``benchmarks/forecast.py``). Raises
    ``InsufficientData`` (with ``needed_hours``) when the history is too short to check a
    forecast, ``ValidationError`` for a malformed series, horizon, metric or candidate name.
    """
    horizon = check_horizon(horizon)
    if metric is not None:
        try:
            metric_spec(metric)
        except KeyError as exc:
            raise ValidationError(str(exc.args[0]), field="metric") from None
    pool = list(MODEL_POOLS[DEFAULT_POOL]) if candidates is None else list(candidates)
    unknown = [c for c in pool if c not in CANDIDATES]
    if unknown or not pool:
        raise ValidationError(f"unknown candidate model(s): {unknown}", field="candidates")
    grid = prepare(series, horizon)
    require_history(grid, horizon)
    steps = horizon_steps(horizon, grid.step)
    if len(grid.values) < steps + max(steps, grid.context(len(grid.values), steps).season):
        # Enough samples in total but spread so thin the grid is short (coarse step vs horizon).
        raise InsufficientData(
            f"insufficient data: need {math.ceil(min_history(horizon) / HOUR)} hours of history on a regular grid",
            needed_hours=math.ceil(min_history(horizon) / HOUR),
        )
    sel = select(
        grid,
        steps,
        pool,
        selection_origins=selection_origins,
        calibration_origins=calibration_origins,
        volatility_hours=volatility_hours,
        tail_scale=tail_scale,
    )
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


def backtest(
    series: pd.Series,
    *,
    horizon: pd.Timedelta = DEFAULT_HORIZON,
    origins: int = 3,
    metric: str | None = None,
    candidates: Sequence[str] | None = None,
    **tunables: float,
) -> BacktestReport:
    """Score the engine as it runs in production on the last ``origins`` horizons of ``series``.

    For origin k (k = origins..1) everything before ``end - k * horizon`` is given to ``train``
    and ``predict``; the next ``horizon`` of the regularised series is the truth. MASE is scaled
    by the daily seasonal-naive error on that origin's history; accuracy = 100 x (1 - WAPE).
    """
    horizon = check_horizon(horizon)
    if origins < 1:
        raise ValidationError("origins must be at least 1", field="origins")
    grid = prepare(series, horizon)
    h = horizon_steps(horizon, grid.step)
    n = len(grid.values)
    season = grid.context(n, h).season
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
        trained = train(history, horizon=horizon, metric=metric, candidates=candidates, **tunables)  # type: ignore[arg-type]
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
