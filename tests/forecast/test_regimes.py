"""Level shifts are told from the daily swing and from the weekly pattern: a regime change that a
test on the raw hourly levels missed (less than twice the day's swing) is found and the past moved
to the new level; a quieter weekend, however deep, is left alone once the history holds the week
before it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from benchmarks.constructed import START, regime_latency

from plugin_ai_analytics.forecast._regimes import align_level_shifts
from plugin_ai_analytics.forecast._series import prepare

H24 = pd.Timedelta(hours=24)


def aligned(history: pd.Series) -> pd.Series:
    grid = prepare(history, H24)
    out = align_level_shifts(grid.values, grid.context(len(grid.values), 288))
    return pd.Series(out, index=grid.start + grid.step * np.arange(len(out)))


def test_a_latency_regime_that_ended_is_moved_to_the_current_level() -> None:
    # Normal (80 ms) -> degraded (144 ms, noisier) on day 3 -> normal again on day 7: the
    # degraded days swing by 36 ms over the day, about as much as the drop, so only the hourly
    # levels without their daily shape show it.
    c = regime_latency(11)
    history = c.series[c.series.index < START + pd.Timedelta(days=9)]
    out = aligned(history)
    degraded = slice(c.shifts[0] + pd.Timedelta(hours=6), c.shifts[1] - pd.Timedelta(hours=6))
    now = float(history[c.shifts[1] + pd.Timedelta(hours=6) :].median())
    assert float(history[degraded].median()) > 1.6 * now  # as it was
    assert abs(float(out[degraded].median()) / now - 1) < 0.1  # as the models see it


def weekly(days: int, weekend_dip: float, seed: int = 0) -> pd.Series:
    """CPU-like: a daily swing of 60 points, noise of 2, weekends ``weekend_dip`` lower."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-03-02", periods=days * 288, freq="5min", tz="UTC")  # a Monday
    phase = 2 * np.pi * (index.hour + index.minute / 60) / 24
    values = 100 + 30 * np.sin(phase) + rng.normal(0, 2.0, len(index))
    return pd.Series(values - np.where(index.weekday >= 5, weekend_dip, 0.0), index=index)


def test_a_deep_weekend_is_the_weekly_pattern_not_a_level_shift() -> None:
    for dip in (40.0, 60.0, 120.0):
        history = weekly(14, dip)  # ends on Sunday night: the second weekend is the newest regime
        assert np.array_equal(aligned(history).to_numpy(), prepare(history, H24).values), dip


def test_a_level_shift_on_a_weekday_is_still_found_with_weekends_around_it() -> None:
    series = weekly(17, 80.0)
    series[series.index >= pd.Timestamp("2026-03-18 10:00", tz="UTC")] += 80.0  # Wednesday
    out = aligned(series)
    before = slice(pd.Timestamp("2026-03-16", tz="UTC"), pd.Timestamp("2026-03-18 08:00", tz="UTC"))
    assert abs(float((out[before] - series[before]).median()) - 80.0) < 5


def test_a_step_within_the_daily_swing_is_left_to_the_models_that_follow_the_level() -> None:
    series = weekly(10, 0.0)
    series[series.index >= pd.Timestamp("2026-03-09 10:00", tz="UTC")] += 40.0  # swing: 60
    assert np.array_equal(aligned(series).to_numpy(), prepare(series, H24).values)
