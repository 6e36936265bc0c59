"""Scoring a block of samples with ``update_many`` is exactly ``update`` sample by sample, on real data.

Same verdicts (scores, metric scores, alerts, events as they stood at each sample), same final
state, to the bit: compared as JSON text, on NAB series and on a multi-metric plugin with gaps,
missing values, warm-up and a new metric inside blocks, a metric that stops reporting, a
save/restore and operator feedback between blocks.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from plugin_ai_analytics.anomaly import PluginDetector, Verdict, detect_frame
from plugin_ai_analytics.anomaly.block import CalibratorSteps, SortedWindow, discord_min_d2
from plugin_ai_analytics.anomaly.calibration import TailCalibrator
from plugin_ai_analytics.anomaly.detectors import robust_location_scale

from .conftest import NAB, START
from .test_learn_history import nab_series

Columns = dict[str, list[float | None]]

# Both kinds of NAB data (5-minute CloudWatch with gaps, hourly ad exchange), a quantised series
# (many exactly equal shapes), one mostly flat (zero MADs: the detectors' fallbacks) and a flat line.
NAB_FILES = [
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "realAWSCloudwatch/grok_asg_anomaly.csv",
    "realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
    "artificialWithAnomaly/art_daily_flatmiddle.csv",
    "artificialNoAnomaly/art_flatline.csv",
]


def record(verdict: Verdict) -> str:
    return json.dumps(verdict.to_dict(), sort_keys=True)


def state(det: PluginDetector) -> str:
    return json.dumps(det.to_state(), sort_keys=True)


def one_by_one(det: PluginDetector, times: list[datetime], columns: Columns, lo: int, hi: int) -> list[str]:
    # The event as it stood at each sample: recorded right after the update.
    return [record(det.update(times[i], {m: c[i] for m, c in columns.items()})) for i in range(lo, hi)]


def in_block(det: PluginDetector, times: list[datetime], columns: Columns, lo: int, hi: int) -> list[str]:
    seen: list[str] = []
    verdicts = det.update_many(
        times[lo:hi], {m: c[lo:hi] for m, c in columns.items()}, lambda v: seen.append(record(v))
    )
    assert len(verdicts) == len(seen) == hi - lo
    return seen


@pytest.mark.parametrize("name", NAB_FILES)
def test_a_nab_series_in_blocks_is_scored_exactly_as_streamed(name: str) -> None:
    times, values = nab_series(name)
    columns: Columns = {"value": list(values)}
    n = len(times)
    streamed = PluginDetector()
    expected = one_by_one(streamed, times, columns, 0, n)
    blocks = PluginDetector()
    # Warm-up ends inside the first block; short runs (< 8) go through update().
    cuts = sorted({min(c, n) for c in (0, 140, 153, 157, 900, 2100, n)})
    got = [r for lo, hi in zip(cuts, cuts[1:], strict=False) for r in in_block(blocks, times, columns, lo, hi)]
    assert got == expected
    assert state(blocks) == state(streamed)
    if "NoAnomaly" not in name:
        assert any(json.loads(r)["alert"] for r in expected), "the comparison must cover events"


def test_the_in_range_paging_rule_is_the_same_in_blocks() -> None:
    """``confirm_in_range`` reads whether a value is a new extreme: blocks read it off the sorted
    window, streaming off the history; the pages (and whatever else) must agree."""
    times, values = nab_series("realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv")
    columns: Columns = {"value": list(values)}
    n = len(times)
    streamed = PluginDetector(confirm_in_range=3)
    expected = one_by_one(streamed, times, columns, 0, n)
    blocks = PluginDetector(confirm_in_range=3)
    cuts = [0, 157, 1900, n]
    got = [r for lo, hi in zip(cuts, cuts[1:], strict=False) for r in in_block(blocks, times, columns, lo, hi)]
    assert got == expected
    assert state(blocks) == state(streamed)
    pages = sum(json.loads(r)["alert"] for r in expected)
    at_once = PluginDetector(confirm_in_range=1)  # every event pages when it opens
    immediate = sum(json.loads(r)["alert"] for r in one_by_one(at_once, times, columns, 0, n))
    assert 0 < pages < immediate, "in-range excursions of this series page later or not at all"


def plugin_history() -> tuple[list[datetime], Columns]:
    """Six real CloudWatch series as one plugin's metrics, plus a memory metric that climbs steadily
    once, with a three-hour outage, scattered lost samples and missing values (None, NaN, inf),
    and one metric that only starts reporting after warm-up."""
    sources = {
        "cpu_percent": "ec2_cpu_utilization_24ae8d",
        "response_time_ms": "rds_cpu_utilization_cc0c53",
        "request_count": "ec2_network_in_257a54",
        "error_rate": "ec2_cpu_utilization_53ea38",
        "active_users": "rds_cpu_utilization_e47b3b",
    }
    n = 2400
    times_all = nab_series("realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv")[0][:n]
    keep = [i for i in range(n) if not (1100 <= i < 1136) and i % 89 != 7]
    times = [times_all[i] for i in keep]
    rng = np.random.default_rng(5)
    memory = 800 + rng.normal(0, 2, n)
    memory[1700:1800] += np.arange(100) * 6.0  # a leak: a steady climb
    columns: Columns = {"memory_mb": [float(memory[i]) for i in keep]}
    for j, (metric, source) in enumerate(sources.items()):
        values = nab_series(f"realAWSCloudwatch/{source}.csv")[1]
        col: list[float | None] = [float(values[i]) for i in keep]
        for i in range(j, len(col), 41 + j):
            col[i] = (None, math.nan, math.inf)[i % 3]
        columns[metric] = col
    columns["active_users"][:400] = [None] * 400  # starts reporting at sample 400, after warm-up
    return times, columns


@pytest.mark.slow
def test_a_multi_metric_plugin_in_blocks_is_scored_exactly_as_streamed() -> None:
    times, columns = plugin_history()
    n = len(times)
    without_errors = {m: c for m, c in columns.items() if m != "error_rate"}
    streamed, blocks = PluginDetector(), PluginDetector()
    expected, got = [], []
    # 0-300: warm-up ends inside; 300-1000: a new metric's channel is born inside (sample 400),
    # the outage's gap is inside; 1000-1005: short (update()); 1005-1400: error_rate not sent at
    # all (its channel skips every sample); then the rest, with the leak.
    plan = [(0, 300, columns), (300, 1000, columns), (1000, 1005, columns), (1005, 1400, without_errors)]
    plan.append((1400, n, columns))
    for lo, hi, cols in plan:
        expected += one_by_one(streamed, times, cols, lo, hi)
        got += in_block(blocks, times, cols, lo, hi)
        assert got == expected, (lo, hi)
        assert state(blocks) == state(streamed), (lo, hi)
        if hi == 1000:  # restart from the saved state; an operator marks the last event a false alarm
            blocks = PluginDetector.from_state(json.loads(state(blocks)))
            event = next(json.loads(r)["event"] for r in reversed(expected) if json.loads(r)["event"])
            for det in (streamed, blocks):
                det.record_feedback(det.event.shape, "false_alarm")  # type: ignore[union-attr]
            assert event is not None
    assert streamed.forest is not None and streamed.period == 288 and "active_users" in streamed.channels
    events = [json.loads(r)["event"] for r in expected]
    patterns = {e["diagnosis"]["pattern"] for e in events if e}
    assert "suspected_memory_leak" in patterns, patterns  # the memory rule reads the history as it stood
    assert sum(json.loads(r)["alert"] for r in expected) >= 3


def test_the_detect_csv_is_the_streamed_one() -> None:
    path = NAB / "realAWSCloudwatch" / "ec2_cpu_utilization_fe7f93.csv"
    if not path.exists():
        pytest.skip("NAB data not found")
    df = pd.read_csv(path)
    df = pd.concat([df.iloc[:900], df.iloc[[899, 899]], df.iloc[900:]])  # re-sends of one instant
    out = detect_frame(df)
    times = pd.to_datetime(df["timestamp"], utc=True)
    det, previous, rows = PluginDetector(), None, []
    for ts, value in zip(times, df["value"], strict=True):
        if ts == previous:
            rows.append((0.0, 0, rows[-1][2]))
            continue
        previous = ts
        v = det.update(ts.to_pydatetime(), {"value": float(value)})
        rows.append((v.incident_score, int(v.alert), v.event.severity.value if v.event and v.event.is_open else ""))
    assert list(out[["anomaly_score", "alert", "severity"]].itertuples(index=False, name=None)) == rows
    assert out["alert"].sum() > 0


def test_bad_input_changes_nothing() -> None:
    times, values = nab_series("realAdExchange/exchange-3_cpc_results.csv")
    det = PluginDetector()
    det.update_many(times[:200], {"value": values[:200]})
    before = state(det)
    with pytest.raises(Exception, match="timestamp"):
        det.update_many(times[150:300], {"value": values[150:300]})  # overlaps what was seen
    with pytest.raises(Exception, match="value"):
        det.update_many(times[200:300], {"value": [*values[200:299], "high"]})
    with pytest.raises(Exception, match="value"):
        det.update_many(times[200:300], {"value": values[200:299]})
    assert state(det) == before
    assert det.update_many([], {"value": []}) == []


# -- the pieces, against the detectors' own formulas ---------------------------------------------


def test_sorted_windows_give_the_detectors_medians_scales_and_nearest_values() -> None:
    rng = np.random.default_rng(1)
    series = [
        rng.normal(size=700),
        rng.integers(0, 5, 700).astype(float),  # ties everywhere
        np.where(rng.random(700) < 0.7, 0.0, rng.exponential(size=700)),  # zero MADs: the fallbacks
        np.round(rng.normal(size=700) * 3) / 7 + 1e6,
        np.where(rng.random(700) < 0.5, -0.0, rng.normal(size=700)),  # signed zeros
    ]
    for values in series:
        for width in (1, 2, 7, 10, 251, 600):
            window = SortedWindow(values.tolist(), values, 0, min(width, len(values)))
            for hi in range(min(width, len(values)), len(values) + 1, 3):
                lo = max(0, hi - width)
                window.move(lo, hi)
                med, scale = window.robust()
                want_med, want_scale = robust_location_scale(values[lo:hi].copy())
                assert (med, scale) == (want_med, want_scale) or (med == want_med == 0.0 and scale == want_scale)
                x = float(rng.normal())
                assert window.nearest_distance(x) == float(np.abs(values[lo:hi] - x).min())


def test_calibrator_steps_are_surprise_then_learn() -> None:
    rng = np.random.default_rng(2)
    raws = np.concatenate([rng.gamma(2.0, 1.0, 3000), [math.nan, math.inf, 0.0, 40.0], rng.gamma(2.0, 1.0, 2000)])
    a, b = TailCalibrator(1000, 100, 4), TailCalibrator(1000, 100, 4)
    steps = CalibratorSteps(b)
    for raw in raws.tolist():
        expected = a.surprise(raw)
        a.learn_one(raw)
        assert steps.step(raw) == expected
    assert a.to_state() == b.to_state()


def test_the_shape_search_finds_the_detectors_nearest_window() -> None:
    rng = np.random.default_rng(4)
    cases = [
        rng.normal(size=1500).cumsum(),
        np.round(rng.normal(size=1500), 1),  # many near-equal shapes
        np.tile([0.0, 0.0, 1.0, 5.0], 375),  # exact repeats
        np.full(1500, 3.0),  # flat: every window ties
        rng.normal(size=1500) * 1e120,  # squares beyond the estimate's range
    ]
    for values in cases:
        for m, capacity in ((8, 1000), (4, 200)):
            positions = np.arange(0, len(values), 7)
            got = discord_min_d2(values, positions, m, capacity)
            for g, d2 in zip(positions.tolist(), got.tolist(), strict=True):
                hist = values[max(0, g - capacity) : g]
                if len(hist) < 3 * m:
                    assert math.isnan(d2)
                    continue
                # SubsequenceDiscord._score's own computation
                query = np.concatenate([hist[len(hist) - m + 1 :], [values[g]]])
                past = hist[: len(hist) - m + 1]
                windows = np.lib.stride_tricks.sliding_window_view(past, m)
                diff = windows - query
                assert d2 == float(np.einsum("ij,ij->i", diff, diff).min())


@pytest.mark.parametrize(
    ("step", "warmup", "seed"),
    [(20000, 30, 6), (7200, 150, 1), (3600, 5, 2), (60, 150, 3)],  # 4, 12, 24 and 1440 samples a day
)
def test_irregular_steps_short_warmups_and_signed_zeros(step: int, warmup: int, seed: int) -> None:
    """Edge cases the NAB files do not have: jittered steps, long gaps, a warm-up of 5 samples,
    seasonal baselines of 4 to 1440 slots a day, flat and quantised metrics, -0.0 values."""
    rng = np.random.default_rng(seed)
    n = 700
    gaps = np.where(rng.random(n) < 0.02, step * rng.integers(2, 40, n), step)
    gaps = np.where(rng.random(n) < 0.05, (step * rng.uniform(0.5, 1.4, n)).astype(int), gaps)
    times = [START + timedelta(seconds=int(s)) for s in np.cumsum(gaps)]
    columns: Columns = {}
    for j, name in enumerate(("memory_mb", "cpu_percent", "error_rate")):
        daily = 10 * np.sin(np.arange(n) * 2 * np.pi * step / 86400)
        values = rng.normal(size=n).cumsum() * (j + 1) + daily
        if j == 1:
            values = np.round(values)
        if j == 2:
            values[rng.random(n) < 0.6] = 0.0
        col: list[float | None] = values.tolist()
        for i in np.flatnonzero(rng.random(n) < 0.05):
            col[i] = (None, math.nan, -0.0)[i % 3]
        columns[name] = col
    columns["error_rate"][:250] = [None] * 250
    streamed, blocks = PluginDetector(0.5, warmup=warmup), PluginDetector(0.5, warmup=warmup)
    expected = one_by_one(streamed, times, columns, 0, n)
    got = []
    for lo, hi in ((0, 40), (40, 330), (330, 336), (336, n)):
        got += in_block(blocks, times, columns, lo, hi)
        blocks = PluginDetector.from_state(json.loads(state(blocks)))
    assert got == expected
    assert state(blocks) == state(streamed)
