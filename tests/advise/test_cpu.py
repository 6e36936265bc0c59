"""CPU allocations that are far too large or too small are sized from the plugin's own percentiles."""

from __future__ import annotations

import numpy as np

from plugin_ai_analytics.advise import PluginContext, cpu

from .conftest import daily, healthy, untraced


def test_headroom_with_p99_at_20_percent_of_the_allocation_is_given_back() -> None:
    frame = healthy(14)
    rng = np.random.default_rng(12)
    frame["cpu_percent"] = 30 + 5 * daily(frame.index) + rng.normal(0, 2, len(frame))  # p99 ~ 40 of 200
    [suggestion] = cpu.analyse(frame, PluginContext(cpu_cores=2)).suggestions
    evidence = suggestion.evidence
    assert suggestion.finding == "cpu_headroom"
    assert 18 <= evidence["p99_share_of_allocation_pct"]["value"] <= 22
    # 1.5 x p99 (about 40% of a core), rounded up to a tenth of a core
    assert evidence["recommended_allocation_percent"]["value"] == 60
    assert evidence["saving_cores"]["value"] == 1.4
    assert untraced(suggestion.to_dict()) == []


def test_saturation_calls_for_more_cpu_and_reports_the_latency_it_costs() -> None:
    frame = healthy(14).drop(columns=["request_count"])
    rng = np.random.default_rng(13)
    demand = 60 + 35 * daily(frame.index) + rng.normal(0, 5, len(frame))
    frame["cpu_percent"] = demand.clip(0, 100)
    frame["response_time_ms"] = 80 + np.where(demand >= 90, 60, 0) + rng.normal(0, 3, len(frame))
    [suggestion] = cpu.analyse(frame, PluginContext(cpu_cores=1)).suggestions
    evidence = suggestion.evidence
    assert suggestion.finding == "cpu_saturation"
    assert evidence["share_of_time_saturated_pct"]["value"] > 10
    assert evidence["recommended_allocation_percent"]["value"] > 100
    assert evidence["response_time_ms_change_pct"]["value"] < -30
    assert untraced(suggestion.to_dict()) == []


def test_a_well_sized_allocation_gets_nothing() -> None:
    report = cpu.analyse(healthy(14), PluginContext(cpu_cores=1))  # p99 ~ 41% of one core
    assert report.suggestions == [] and report.clear


def test_without_an_allocation_cpu_sizing_is_skipped_not_guessed() -> None:
    report = cpu.analyse(healthy(14), PluginContext())
    assert report.suggestions == [] and "allocation unknown" in report.skipped[0].reason


def test_right_sizing_needs_a_week() -> None:
    frame = healthy(5)
    frame["cpu_percent"] = 10.0
    report = cpu.analyse(frame, PluginContext(cpu_cores=2))
    assert report.suggestions == [] and "7 days" in report.skipped[0].reason
