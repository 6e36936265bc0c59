"""Constructed metric series with a known truth (issue 11, point 4): bursty heavy-tailed request
counts, latency that jumps between regimes, and a slow ramp into an incident.

Deterministic (fixed seeds, numpy's PCG64), nothing stored: ``constructed_series()`` rebuilds the
same values on every machine. Each series comes with its truth (burst starts, regime-shift times,
the incident's ramp / peak / end), so a forecaster's intervals can be checked where the series
changes and a detector's alerts against windows. Used by ``benchmarks/forecast.py`` (group
"constructed") and by the tests (``tests/forecast/test_constructed.py``).

Every series is 14 days at a 5-minute step (4032 samples) starting on a Monday, UTC. The events
that matter for a 24 h forecast fall in days 7-12, so forecasts issued daily over the last week
see each of them, and the 48 h after each regime shift, with at least a week of history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

STEP = pd.Timedelta(minutes=5)
START = pd.Timestamp("2026-01-05 00:00", tz="UTC")  # a Monday
DAYS = 14
PER_DAY = 288
SEEDS = (11, 12)  # two series of each kind


@dataclass(frozen=True)
class Constructed:
    """One constructed series and what is true about it."""

    name: str
    kind: str  # "bursty_counts" | "regime_latency" | "incident_ramp"
    series: pd.Series  # 5-minute values, UTC DatetimeIndex
    bursts: tuple[pd.Timestamp, ...] = ()  # first sample of each burst
    burst_sizes: tuple[float, ...] = ()  # each burst's peak extra rate, as a multiple of the normal rate then
    shifts: tuple[pd.Timestamp, ...] = ()  # first sample of each new regime
    regimes: tuple[tuple[float, float], ...] = ()  # (median level, log-noise) of each regime in order
    incident: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp] | None = None  # ramp start, peak start, end
    anomalies: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = field(default=())  # windows an alert belongs in


def _times(days: int = DAYS) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=days * PER_DAY, freq=STEP)


def _daily_shape(times: pd.DatetimeIndex) -> np.ndarray:
    """A working-day load curve in [0, 1]: low at night, a morning rise, an afternoon peak;
    weekends at 60 % of it."""
    hours = times.hour.to_numpy() + times.minute.to_numpy() / 60.0
    shape = 0.5 - 0.5 * np.cos(2 * np.pi * (hours - 3.0) / 24.0)  # minimum at 03:00, peak at 15:00
    shape = shape**1.5
    weekend = times.weekday.to_numpy() >= 5
    return np.where(weekend, 0.6 * shape, shape)


def _at(i: int) -> pd.Timestamp:
    return START + i * STEP


def bursty_counts(seed: int, days: int = DAYS, base: float = 200.0) -> Constructed:
    """Requests per 5 minutes: an over-dispersed daily cycle (gamma-mixed Poisson) plus bursts.

    Bursts arrive as a Poisson process (1.5 a day on average, at any time of day, from day 2 on);
    each multiplies the normal rate by 1 + a Pareto(alpha = 1.5) size (heavy-tailed: most bursts
    are small, a few are many times the normal rate), peaks on its first sample and decays with a
    half-life drawn between 10 and 40 minutes. Anomaly windows: bursts whose size is at least 2.
    """
    rng = np.random.default_rng(seed)
    times = _times(days)
    n = len(times)
    rate = base * (0.15 + 0.85 * _daily_shape(times))
    rate = rate * rng.gamma(shape=30.0, scale=1 / 30.0, size=n)  # day-to-day and sample noise
    count = rng.poisson(1.5 * (days - 2))
    starts = np.sort(rng.choice(np.arange(2 * PER_DAY, n - 12), size=count, replace=False))
    sizes = rng.pareto(1.5, size=count) + 0.3
    extra = np.zeros(n)
    windows = []
    for i, size in zip(starts, sizes, strict=True):
        half_life = rng.uniform(2, 8)  # samples
        k = np.arange(min(48, n - i))
        extra[i : i + len(k)] += size * rate[i] * 0.5 ** (k / half_life)
        if size >= 2.0:
            windows.append((_at(int(i)), _at(int(i + min(len(k) - 1, round(3 * half_life))))))
    values = rng.poisson(rate + extra).astype(float)
    return Constructed(
        name=f"bursty_counts_{seed}",
        kind="bursty_counts",
        series=pd.Series(values, index=times, name="request_count"),
        bursts=tuple(_at(int(i)) for i in starts),
        burst_sizes=tuple(float(s) for s in sizes),
        anomalies=tuple(windows),
    )


def regime_latency(seed: int, days: int = DAYS, base: float = 80.0) -> Constructed:
    """Response time (ms) that jumps between regimes: a lognormal around a level with a mild
    load-driven daily cycle, the level and noise changing at each regime shift.

    One shift in days 3-5 (so the history shows what a regime change looks like), then two in
    days 7-12 at least 48 h apart (each followed by 48 h before the next or the end of the series):
    the regimes are drawn from fast (x0.7), normal (x1), degraded (x1.8, noisier) and saturated
    (x3, much noisier), never the same twice in a row.
    """
    rng = np.random.default_rng(seed)
    times = _times(days)
    n = len(times)
    kinds = ((0.7, 0.10), (1.0, 0.12), (1.8, 0.20), (3.0, 0.30))
    first = int(rng.integers(3 * PER_DAY, 5 * PER_DAY))
    second = int(rng.integers(7 * PER_DAY, int(8.5 * PER_DAY)))
    third = int(rng.integers(second + 2 * PER_DAY, min(n - 2 * PER_DAY, second + int(3.5 * PER_DAY)) + 1))
    shifts = [first, second, third]
    current = 1  # start normal
    regimes = [kinds[current]]
    for _ in shifts:
        choices = [k for k in range(len(kinds)) if k != current]
        current = int(rng.choice(choices))
        regimes.append(kinds[current])
    level = np.empty(n)
    noise = np.empty(n)
    bounds = [0, *shifts, n]
    for (mult, sigma), a, b in zip(regimes, bounds[:-1], bounds[1:], strict=True):
        level[a:b] = base * mult
        noise[a:b] = sigma
    load = 1.0 + 0.25 * _daily_shape(times)
    values = level * load * np.exp(rng.normal(0.0, noise))
    return Constructed(
        name=f"regime_latency_{seed}",
        kind="regime_latency",
        series=pd.Series(values, index=times, name="response_time_ms"),
        shifts=tuple(_at(i) for i in shifts),
        regimes=tuple((base * m, s) for m, s in regimes),
        anomalies=tuple((_at(i), _at(i + 11)) for i in shifts),  # the first hour of each new regime
    )


def incident_ramp(seed: int, days: int = DAYS, base: float = 120.0) -> Constructed:
    """Response time (ms) that climbs slowly into an incident: a normal daily pattern, then from a
    time in days 8-11 a ramp of 6-12 h (convex: slow at first) up to 3-5x the level, 1-3 h at the
    peak, and recovery within 30 minutes. Anomaly window: the ramp's second half to the end."""
    rng = np.random.default_rng(seed)
    times = _times(days)
    n = len(times)
    values = base * (1.0 + 0.4 * _daily_shape(times)) * np.exp(rng.normal(0.0, 0.08, size=n))
    ramp_start = int(rng.integers(8 * PER_DAY, 11 * PER_DAY))
    ramp_len = int(rng.integers(6 * 12, 12 * 12 + 1))
    peak_len = int(rng.integers(12, 3 * 12 + 1))
    recovery = 6
    height = rng.uniform(3.0, 5.0)
    factor = np.ones(n)
    k = np.arange(ramp_len)
    factor[ramp_start : ramp_start + ramp_len] = 1.0 + (height - 1.0) * (k / ramp_len) ** 2
    peak = ramp_start + ramp_len
    factor[peak : peak + peak_len] = height
    end = peak + peak_len
    factor[end : end + recovery] = np.linspace(height, 1.0, recovery + 2)[1:-1]
    values = values * factor
    return Constructed(
        name=f"incident_ramp_{seed}",
        kind="incident_ramp",
        series=pd.Series(values, index=times, name="response_time_ms"),
        incident=(_at(ramp_start), _at(peak), _at(end + recovery)),
        anomalies=((_at(ramp_start + ramp_len // 2), _at(end + recovery)),),
    )


GENERATORS = {"bursty_counts": bursty_counts, "regime_latency": regime_latency, "incident_ramp": incident_ramp}


def constructed_series(seeds: tuple[int, ...] = SEEDS) -> list[Constructed]:
    """Every kind at every seed: the "constructed" group of the forecast benchmark."""
    return [make(seed) for make in GENERATORS.values() for seed in seeds]
