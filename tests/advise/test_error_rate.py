"""Errors that follow load, the clock, or a change are each told apart and measured."""

from __future__ import annotations

import numpy as np
import pandas as pd

from plugin_ai_analytics.advise import PluginContext, error_rate

from .conftest import daily, healthy, untraced


def _binomial(frame: pd.DataFrame, rate: np.ndarray, seed: int) -> pd.Series:
    requests = frame["request_count"].to_numpy().astype(int)
    return pd.Series(np.random.default_rng(seed).binomial(requests, rate) / requests, index=frame.index)


def findings(frame: pd.DataFrame) -> dict[str, dict]:
    return {s.finding: s.to_dict() for s in error_rate.analyse(frame, PluginContext()).suggestions}


def test_errors_rising_with_load_are_reported_with_the_peak_rate_and_not_as_an_hour_pattern() -> None:
    frame = healthy(14)
    rng = np.random.default_rng(7)
    load = np.round(250 + 150 * daily(frame.index) + rng.normal(0, 20, len(frame))).clip(1)
    frame["request_count"] = load
    frame["error_rate"] = _binomial(frame, 0.002 + 0.0002 * np.maximum(0, load - 250), 8)
    found = findings(frame)
    assert set(found) == {"errors_with_load"}
    evidence = found["errors_with_load"]["evidence"]
    true_at_peak = 100 * (0.002 + 0.0002 * (evidence["current_peak_load"]["value"] - 250))
    assert abs(evidence["error_rate_at_peak_pct"]["value"] - true_at_peak) <= 0.2 * true_at_peak
    assert evidence["spearman_rho_ci95"][0] > 0.3
    assert untraced(found["errors_with_load"]) == []


def test_errors_at_a_fixed_hour_are_reported_for_that_hour() -> None:
    frame = healthy(14)
    hour = frame.index.hour
    frame["error_rate"] = _binomial(frame, np.where((hour >= 2) & (hour < 4), 0.03, 0.002), 9)
    found = findings(frame)
    assert set(found) == {"errors_by_hour"}
    evidence = found["errors_by_hour"]["evidence"]
    assert evidence["worst_hours_utc"] == [2, 3]
    assert abs(evidence["error_rate_in_worst_hours_pct"]["value"] - 3.0) <= 0.3
    assert untraced(found["errors_by_hour"]) == []


def test_a_step_up_after_a_change_is_dated_and_measured() -> None:
    frame = healthy(14)
    change = frame.index[int(len(frame) * 0.6)]
    frame["error_rate"] = _binomial(frame, np.where(frame.index >= change, 0.012, 0.002), 10)
    found = findings(frame)
    assert set(found) == {"errors_after_level_shift"}
    evidence = found["errors_after_level_shift"]["evidence"]
    assert abs(pd.Timestamp(evidence["changed_at"]) - change) <= pd.Timedelta(hours=2)
    assert abs(evidence["error_rate_before_pct"]["value"] - 0.2) <= 0.05
    assert abs(evidence["error_rate_after_pct"]["value"] - 1.2) <= 0.15
    assert untraced(found["errors_after_level_shift"]) == []


def test_a_step_down_is_an_improvement_not_a_finding() -> None:
    frame = healthy(14)
    change = frame.index[len(frame) // 2]
    frame["error_rate"] = _binomial(frame, np.where(frame.index >= change, 0.002, 0.012), 11)
    assert findings(frame) == {}


def test_a_low_constant_error_rate_is_clear_on_every_test() -> None:
    report = error_rate.analyse(healthy(14), PluginContext())
    assert report.suggestions == []
    assert {n.analysis for n in report.clear} == {"errors_with_load", "errors_by_hour", "errors_after_level_shift"}
