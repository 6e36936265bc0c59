"""A leak is measured at its true rate, with the right time to the memory limit, and only then."""

from __future__ import annotations

import numpy as np

from plugin_ai_analytics.advise import PluginContext, Priority, leak

from .conftest import healthy, untraced, with_leak

LIMIT = 4096.0


def test_a_5_mib_per_hour_leak_is_reported_at_4_5_to_5_5_with_the_right_time_to_limit() -> None:
    frame, peak_now = with_leak(healthy(14), 5.0)
    report = leak.analyse(frame, PluginContext(memory_limit_mb=LIMIT))
    [suggestion] = report.suggestions
    evidence = suggestion.evidence
    assert suggestion.finding == "memory_leak"
    assert 4.5 <= evidence["growth_rate_mib_per_h"]["value"] <= 5.5
    true_hours = (LIMIT - peak_now) / 5.0
    assert abs(evidence["time_to_limit_h"]["value"] - true_hours) <= 0.1 * true_hours
    assert evidence["growth_rate_ci95_mib_per_h"][0] > 0
    assert untraced(suggestion.to_dict()) == []


def test_the_priority_follows_the_time_to_limit() -> None:
    frame, peak_now = with_leak(healthy(14), 5.0)
    soon = leak.analyse(frame, PluginContext(memory_limit_mb=peak_now + 5 * 48)).suggestions[0]
    later = leak.analyse(frame, PluginContext(memory_limit_mb=peak_now + 5 * 24 * 60)).suggestions[0]
    assert soon.priority is Priority.HIGH
    assert later.priority is Priority.LOW


def test_without_a_limit_the_rate_is_still_reported() -> None:
    frame, _ = with_leak(healthy(14), 5.0)
    [suggestion] = leak.analyse(frame, PluginContext()).suggestions
    assert "time_to_limit_h" not in suggestion.evidence
    assert suggestion.priority is Priority.MEDIUM


def test_a_leak_survives_gaps_and_irregular_sampling() -> None:
    frame, _ = with_leak(healthy(14), 5.0)
    rng = np.random.default_rng(5)
    frame = frame[rng.random(len(frame)) > 0.3]  # 30% of samples lost at random
    frame = frame.drop(frame.index[1000:1100])  # and an 8-hour outage
    [suggestion] = leak.analyse(frame, PluginContext(memory_limit_mb=LIMIT)).suggestions
    assert 4.5 <= suggestion.evidence["growth_rate_mib_per_h"]["value"] <= 5.5


def test_gc_sawtooth_and_daily_cycle_without_growth_are_not_a_leak() -> None:
    frame, _ = with_leak(healthy(14), 0.0)
    report = leak.analyse(frame, PluginContext(memory_limit_mb=LIMIT))
    assert report.suggestions == []
    assert report.clear


def test_too_short_a_history_is_skipped_with_a_reason() -> None:
    frame, _ = with_leak(healthy(3), 5.0)
    report = leak.analyse(frame, PluginContext(memory_limit_mb=LIMIT))
    assert report.suggestions == []
    assert "needs 5 days" in report.skipped[0].reason


def test_a_restart_resets_the_fit_to_the_data_since_it() -> None:
    frame, peak_now = with_leak(healthy(14), 5.0)
    restart = frame.index[5 * 288]
    hours_before = (restart - frame.index[0]) / np.timedelta64(1, "h")
    frame.loc[restart:, "memory_mb"] -= 5.0 * hours_before  # memory back to where it started
    [suggestion] = leak.analyse(frame, PluginContext(memory_limit_mb=LIMIT)).suggestions
    evidence = suggestion.evidence
    assert evidence["restarts_detected"] == [restart.isoformat()]
    assert evidence["window"]["start"] == restart.isoformat()
    assert 4.5 <= evidence["growth_rate_mib_per_h"]["value"] <= 5.5
    true_hours = (LIMIT - (peak_now - 5.0 * hours_before)) / 5.0
    assert abs(evidence["time_to_limit_h"]["value"] - true_hours) <= 0.1 * true_hours
    assert untraced(suggestion.to_dict()) == []


def test_a_leak_restarted_too_recently_is_skipped_with_the_restart_named() -> None:
    frame, _ = with_leak(healthy(14), 5.0)
    restart = frame.index[11 * 288]
    frame.loc[restart:, "memory_mb"] -= 5.0 * 11 * 24
    report = leak.analyse(frame, PluginContext(memory_limit_mb=LIMIT))
    assert report.suggestions == []
    assert "restart" in report.skipped[0].reason
