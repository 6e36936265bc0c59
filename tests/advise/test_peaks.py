"""A strong daily peak is found at its hour, and the cut from moving deferrable load is computed."""

from __future__ import annotations

import numpy as np

from plugin_ai_analytics.advise import PluginContext, peaks

from .conftest import daily, healthy, untraced


def test_a_daily_evening_peak_is_found_and_its_reduction_computed_from_the_profile() -> None:
    frame = healthy(14)
    rng = np.random.default_rng(14)
    frame["request_count"] = np.round(
        200 * np.exp(1.2 * daily(frame.index, peak_hour=19)) + rng.normal(0, 10, len(frame))
    ).clip(1)
    frame["cpu_percent"] = 5 + 0.05 * frame["request_count"] + rng.normal(0, 1, len(frame))
    [suggestion] = peaks.analyse(frame, PluginContext()).suggestions
    evidence = suggestion.evidence
    assert suggestion.finding == "daily_peak"
    assert evidence["peak_hour_utc"] in (18, 19, 20)
    peak, median = evidence["peak_hour_level"]["value"], evidence["daily_median_level"]["value"]
    assert abs(peak - 200 * np.exp(1.2)) <= 0.1 * 200 * np.exp(1.2)
    share = evidence["deferrable_share_assumed_pct"]["value"] / 100
    assert abs(evidence["peak_reduction_pct"]["value"] - 100 * share * (peak - median) / peak) <= 0.1
    assert evidence["cpu_peak_change_pct"]["value"] < 0
    assert untraced(suggestion.to_dict()) == []


def test_a_mild_daily_cycle_is_not_a_peak_problem() -> None:
    report = peaks.analyse(healthy(14), PluginContext())
    assert report.suggestions == [] and report.clear


def test_peaks_need_a_week() -> None:
    report = peaks.analyse(healthy(4), PluginContext())
    assert report.suggestions == [] and "7 days" in report.skipped[0].reason
