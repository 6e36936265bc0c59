"""Turning a raw metric series into the regular grid every candidate model expects.

Owns input validation, step inference, regularisation (irregular sampling, duplicates, gaps),
the horizon in grid steps, what a model knows of the grid (``Context``) and the minimum-history
rule that produces "insufficient data: need N more hours".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from plugin_ai_analytics.errors import InsufficientData, ValidationError

__all__ = [
    "hours_needed",
    "DAY",
    "HOUR",
    "Context",
    "Grid",
    "check_horizon",
    "horizon_steps",
    "infer_step",
    "min_history",
    "prepare",
    "regularise",
    "require_history",
    "validate",
]

DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)
_NICE_STEPS = (
    1,
    2,
    5,
    10,
    15,
    20,
    30,
    60,
    120,
    180,
    300,
    600,
    900,
    1200,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)


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
class Grid:
    """A series on a regular grid: ``values[i]`` is the value at ``start + i * step``."""

    values: np.ndarray
    start: pd.Timestamp
    step: pd.Timedelta
    observed: int  # bins that held at least one real sample (the rest were filled)

    @property
    def last(self) -> pd.Timestamp:
        return self.start + (len(self.values) - 1) * self.step

    def context(self, end: int, horizon: int) -> Context:
        """The ``Context`` of a forecast of ``horizon`` steps from ``values[:end]``."""
        return Context(step=self.step, horizon=horizon, t_last=self.start + (end - 1) * self.step)


def horizon_steps(horizon: pd.Timedelta, step: pd.Timedelta) -> int:
    """Grid steps covering ``horizon`` (at least one)."""
    return max(1, math.ceil(horizon / step))


def check_horizon(horizon: pd.Timedelta) -> pd.Timedelta:
    """``horizon`` as a Timedelta, or ``ValidationError`` outside 1 second .. 31 days."""
    horizon = pd.Timedelta(horizon)
    if horizon <= pd.Timedelta(0) or horizon > pd.Timedelta(days=31):
        raise ValidationError("horizon must be between 1 second and 31 days", field="horizon")
    return horizon


def validate(series: pd.Series) -> pd.Series:
    """Return the finite samples of ``series`` sorted by time, with a UTC index."""
    if not isinstance(series, pd.Series):
        raise ValidationError("series must be a pandas Series indexed by timestamp", field="series")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValidationError("series index must be a DatetimeIndex", field="series.index")
    if series.index.tz is None:
        # A naive timestamp is ambiguous; guessing UTC silently would shift daily patterns.
        raise ValidationError("series index must be timezone-aware (UTC)", field="series.index")
    try:
        values = pd.to_numeric(series, errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"series values must be numeric: {exc}", field="series") from None
    values.index = series.index.tz_convert("UTC")
    values = values[np.isfinite(values.to_numpy())]
    return values.sort_index()


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The sampling step: the median gap between consecutive samples, rounded to a second.

    The median ignores both gaps (outages) and bursts (jittered scrapes), which a mode or mean
    would not.
    """
    if len(index) < 2:
        raise ValidationError("need at least two samples to infer the sampling step", field="series")
    diffs = np.diff(index.asi8)
    diffs = diffs[diffs > 0]
    if len(diffs) == 0:
        raise ValidationError("all samples share one timestamp", field="series.index")
    seconds = float(np.median(diffs)) / 1e9
    # Jittered scrapes and dropped samples bias the median a little (5 min comes out 5:06);
    # snap to the nearest step a scheduler would use when within 10 % of it.
    nice = min(_NICE_STEPS, key=lambda s: abs(s - seconds))
    if abs(nice - seconds) <= 0.1 * nice:
        return pd.Timedelta(seconds=nice)
    return pd.Timedelta(seconds=max(1, round(seconds)))


def regularise(values: pd.Series, step: pd.Timedelta) -> Grid:
    """Put ``values`` on a grid of ``step`` anchored at the last sample.

    Anchoring at the end keeps the newest sample in its own bin, so a forecast starts exactly one
    step after the data the operator sees. Several samples in a bin are averaged; empty bins are
    filled by linear interpolation (a gap carries no information, and a straight line is the
    least-committal bridge the seasonal models can still read).
    """
    last = values.index[-1]
    first = values.index[0]
    n = int((last - first) // step) + 1
    start = last - (n - 1) * step
    # Bin i covers (start + (i - 1/2) step, start + (i + 1/2) step].
    offsets = (values.index.asi8 - start.value) / step.value
    bins = np.clip(np.rint(offsets).astype(np.int64), 0, n - 1)
    sums = np.bincount(bins, weights=values.to_numpy(), minlength=n)
    counts = np.bincount(bins, minlength=n)
    observed = counts > 0
    grid = np.full(n, np.nan)
    grid[observed] = sums[observed] / counts[observed]
    if not observed.all():
        idx = np.arange(n)
        grid = np.interp(idx, idx[observed], grid[observed])
    return Grid(values=grid, start=start, step=step, observed=int(observed.sum()))


def min_history(horizon: pd.Timedelta) -> pd.Timedelta:
    """History needed to train: one day (or one horizon, if longer) to fit, one horizon to test.

    Below that no forecast can be checked against anything, so none is made.
    """
    return max(horizon, DAY) + horizon


def hours_needed(series: pd.Series, horizon: pd.Timedelta) -> tuple[float, float]:
    """``(hours of samples the series has, hours more it needs to train)``, the second 0 when it
    is enough: what ``train`` would say, without training (cheap enough for a page view)."""
    values = series.dropna()
    need = min_history(horizon)
    if len(values) < 2:
        return 0.0, need / HOUR
    grid = regularise(values, infer_step(values.index))
    have = grid.observed * grid.step
    return have / HOUR, max(0.0, (need - have) / HOUR)


def require_history(grid: Grid, horizon: pd.Timedelta) -> None:
    """Raise ``InsufficientData`` naming the missing hours when ``grid`` is too short.

    Counted in observed samples, not wall-clock span: a week with six days missing is one day.
    """
    have = grid.observed * grid.step
    need = min_history(horizon)
    if have < need:
        more = math.ceil((need - have) / HOUR)
        raise InsufficientData(
            f"insufficient data: need {more} more hours of history "
            f"(have {have / HOUR:.1f} h of samples, need {need / HOUR:.0f} h to train and check "
            f"a {horizon / HOUR:.0f} h forecast)",
            needed_hours=more,
        )


def prepare(series: pd.Series, horizon: pd.Timedelta, step: pd.Timedelta | None = None) -> Grid:
    """Validate and regularise ``series`` (inferring the step unless given)."""
    values = validate(series)
    if len(values) < 2:
        more = math.ceil(min_history(horizon) / HOUR)
        raise InsufficientData(
            f"insufficient data: need {more} more hours of history (the series has fewer than two samples)",
            needed_hours=more,
        )
    if step is None:
        step = infer_step(values.index)
    return regularise(values, step)
