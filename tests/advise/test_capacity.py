"""A load→latency knee is found where it is, and capping load there is valued from the fit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from plugin_ai_analytics.advise import PluginContext, capacity

from .conftest import healthy, hinge, untraced, with_knee


def test_a_knee_at_300_is_found_within_15_percent() -> None:
    frame = with_knee(healthy(14), knee=300)
    [suggestion] = capacity.analyse(frame, PluginContext()).suggestions
    assert suggestion.finding == "capacity_knee"
    assert 255 <= suggestion.evidence["knee_load"]["value"] <= 345
    assert untraced(suggestion.to_dict()) == []


def test_capping_load_at_the_knee_is_valued_from_the_true_curve() -> None:
    frame = with_knee(healthy(14), knee=300)
    evidence = capacity.analyse(frame, PluginContext()).suggestions[0].evidence
    peak = evidence["current_peak_load"]["value"]
    true_mean = hinge(np.float64(300), 300, 50, 0.05, 0.85) / hinge(np.float64(peak), 300, 50, 0.05, 0.85) - 1
    true_p95 = hinge(np.float64(300), 300, 120, 0.1, 2.0) / hinge(np.float64(peak), 300, 120, 0.1, 2.0) - 1
    assert evidence["response_time_ms_change_pct"]["value"] < 0
    assert abs(evidence["response_time_ms_change_pct"]["value"] - 100 * true_mean) <= 10  # percentage points
    assert abs(evidence["response_time_p95_ms_change_pct"]["value"] - 100 * true_p95) <= 10


def test_latency_rising_linearly_with_load_is_no_knee() -> None:
    frame = with_knee(healthy(14), knee=300)
    rng = np.random.default_rng(3)
    frame["response_time_ms"] = 50 + 0.4 * frame["request_count"] + rng.normal(0, 5, len(frame))
    report = capacity.analyse(frame, PluginContext())
    assert report.suggestions == []
    assert report.clear


def test_flat_latency_is_no_knee() -> None:
    frame = with_knee(healthy(14), knee=300)
    frame["response_time_ms"] = 80 + np.random.default_rng(4).normal(0, 5, len(frame))
    frame["response_time_p95_ms"] = np.nan
    assert capacity.analyse(frame, PluginContext()).suggestions == []


def test_without_load_it_is_skipped() -> None:
    frame = healthy(14).drop(columns=["request_count"])
    report = capacity.analyse(frame, PluginContext())
    assert report.suggestions == [] and "request_count" in report.skipped[0].reason


def test_it_needs_a_day_of_paired_samples() -> None:
    frame = with_knee(healthy(14), knee=300)
    frame.loc[frame.index[200] :, "response_time_ms"] = np.nan
    report = capacity.analyse(frame, PluginContext())
    assert report.suggestions == [] and report.skipped
    assert isinstance(frame.index, pd.DatetimeIndex)
