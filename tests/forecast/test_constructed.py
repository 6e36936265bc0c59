"""The constructed series of benchmarks/constructed.py (issue 11): rebuilt identically from their
seeds, and their stated truth (bursts, regime shifts, the incident) is what the values show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from benchmarks.constructed import DAYS, PER_DAY, STEP, constructed_series

from plugin_ai_analytics.forecast import train

SERIES = {c.name: c for c in constructed_series()}
DAY = pd.Timedelta(days=1)


def test_the_same_seeds_give_the_same_series_and_truth() -> None:
    again = {c.name: c for c in constructed_series()}
    assert SERIES.keys() == again.keys()
    for name, c in SERIES.items():
        pd.testing.assert_series_equal(c.series, again[name].series)
        assert c.bursts == again[name].bursts and c.shifts == again[name].shifts
        assert c.incident == again[name].incident


def test_every_series_is_two_weeks_of_five_minute_utc_samples() -> None:
    kinds = {c.kind for c in SERIES.values()}
    assert kinds == {"bursty_counts", "regime_latency", "incident_ramp"}
    for c in SERIES.values():
        s = c.series
        assert len(s) == DAYS * PER_DAY and str(s.index.tz) == "UTC"
        assert (np.diff(s.index.asi8) == STEP.value).all()
        assert np.isfinite(s.to_numpy()).all() and (s.to_numpy() >= 0).all()


def _same_time_day_before(s: pd.Series, t: pd.Timestamp) -> float:
    return float(s.loc[t - DAY - pd.Timedelta(minutes=30) : t - DAY + pd.Timedelta(minutes=30)].median())


@pytest.mark.parametrize("name", [n for n, c in SERIES.items() if c.kind == "bursty_counts"])
def test_large_bursts_stand_out_from_the_same_time_the_day_before(name: str) -> None:
    c = SERIES[name]
    assert len(c.bursts) == len(c.burst_sizes) >= 10  # about 1.5 a day
    assert max(c.burst_sizes) > 3  # heavy tail: some bursts are many times the normal rate
    for (start, _), size in zip(c.anomalies, [z for z in c.burst_sizes if z >= 2], strict=True):
        assert c.series.loc[start] > (1 + size / 2) * _same_time_day_before(c.series, start)


@pytest.mark.parametrize("name", [n for n, c in SERIES.items() if c.kind == "regime_latency"])
def test_the_level_changes_at_each_regime_shift_and_holds_for_48_hours(name: str) -> None:
    c = SERIES[name]
    assert len(c.shifts) == 3 and len(c.regimes) == 4
    # Every measured shift (the last two) is followed by 48 h of its regime inside the series.
    for a, b in zip(c.shifts[1:], c.shifts[2:], strict=False):
        assert b - a >= 2 * DAY
    assert c.series.index[-1] - c.shifts[-1] >= 2 * DAY - STEP
    bounds = [c.series.index[0], *c.shifts, c.series.index[-1] + STEP]
    for (level, _), a, b in zip(c.regimes, bounds[:-1], bounds[1:], strict=True):
        median = float(c.series.loc[a : b - STEP].median())
        assert level <= median <= 1.25 * level  # the load cycle adds up to 25 %
    levels = [lv for lv, _ in c.regimes]
    assert all(x != y for x, y in zip(levels, levels[1:], strict=False))


@pytest.mark.parametrize("name", [n for n, c in SERIES.items() if c.kind == "incident_ramp"])
def test_the_ramp_climbs_slowly_into_the_incident(name: str) -> None:
    c = SERIES[name]
    ramp, peak, end = c.incident
    assert pd.Timedelta(hours=6) <= peak - ramp <= pd.Timedelta(hours=12)
    normal = float(c.series.loc[ramp - DAY : ramp - STEP].median())
    assert float(c.series.loc[peak : end - STEP].median()) > 2.5 * normal
    first_hour = float(c.series.loc[ramp : ramp + pd.Timedelta(minutes=55)].median())
    assert first_hour < 1.5 * normal  # slow at first: nothing to see in the first hour
    assert float(c.series.loc[end + pd.Timedelta(hours=1) : end + pd.Timedelta(hours=3)].median()) < 1.6 * normal


def test_the_forecaster_trains_on_each_kind() -> None:
    for kind in ("bursty_counts", "regime_latency", "incident_ramp"):
        c = next(x for x in SERIES.values() if x.kind == kind)
        history = c.series.iloc[: 7 * PER_DAY]
        frame = train(history).predict(history).frame
        assert len(frame) == PER_DAY
        assert np.isfinite(frame[["lower_95", "upper_95"]].to_numpy()).all()
