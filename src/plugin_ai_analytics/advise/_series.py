"""Shared handling of one plugin's history for the analyses: cleaning, the window a finding is
drawn from, hourly aggregation and the minimum-data guard.

Irregular steps and gaps are allowed everywhere, so nothing here assumes a fixed sample rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)


def prepare(history: pd.DataFrame) -> pd.DataFrame:
    """A sorted, de-duplicated, UTC, float copy; non-finite values become missing."""
    if not isinstance(history.index, pd.DatetimeIndex):
        raise ValueError("history must have a DatetimeIndex (UTC timestamps)")
    frame = history.copy()
    # A naive index is taken as UTC: that is what the store hands out.
    frame.index = frame.index.tz_localize("UTC") if frame.index.tz is None else frame.index.tz_convert("UTC")
    if not (frame.index.is_monotonic_increasing and frame.index.is_unique):
        frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    # Every analysis prepares its input, usually the store's already-clean float frame: the
    # checks above and below make that case cheap (per-column to_numeric cost ~5 ms a call).
    if not all(dtype == np.float64 for dtype in frame.dtypes):
        frame = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    values = frame.to_numpy()
    if values.size and not np.isfinite(values[~np.isnan(values)]).all():
        frame = frame.replace([np.inf, -np.inf], np.nan)
    return frame


def series(frame: pd.DataFrame, name: str) -> pd.Series:
    """The observed values of one metric (missing samples dropped); empty if the column is absent."""
    if name not in frame.columns:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"))
    return frame[name].dropna()


def span_days(values: pd.Series) -> float:
    if len(values) < 2:
        return 0.0
    return (values.index[-1] - values.index[0]) / DAY


def window(values: pd.Series | pd.DataFrame) -> dict[str, Any]:
    """The data window a finding was computed from, for its evidence."""
    return {
        "start": values.index[0].isoformat(),
        "end": values.index[-1].isoformat(),
        "days": round(span_days(values), 2),
        "samples": len(values),
    }


def hours_since(index: pd.DatetimeIndex, origin: pd.Timestamp) -> np.ndarray:
    return np.asarray((index - origin) / HOUR, dtype=float)


def hourly(values: pd.Series | pd.DataFrame, min_samples: int = 1) -> pd.Series | pd.DataFrame:
    """Hourly means; hours with fewer than ``min_samples`` samples are dropped.

    Hourly means, not raw samples, feed the significance tests: 5-minute samples are strongly
    autocorrelated, so treating them as independent would make every wiggle "significant".
    """
    grouped = values.resample("1h")
    means = grouped.mean()
    counts = grouped.count()
    if isinstance(means, pd.DataFrame):
        return means[(counts >= min_samples).all(axis=1)].dropna()
    return means[counts >= min_samples].dropna()
