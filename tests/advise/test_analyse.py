"""The entry point: a healthy plugin gets nothing, a short history gets reasons, faults get found,
and what comes out is JSON-safe and traceable to its evidence."""

from __future__ import annotations

import json

import numpy as np
import pytest

import plugin_ai_analytics.advise as advise
from plugin_ai_analytics.advise import PluginContext, analyse, analyse_with_report

from .conftest import healthy, untraced, with_knee, with_leak

CONTEXT = PluginContext(memory_limit_mb=2048, cpu_cores=1)


def test_the_public_names_do_not_change_by_accident() -> None:
    assert sorted(advise.__all__) == sorted(
        [
            "ANALYSES",
            "Effect",
            "Note",
            "PluginContext",
            "Priority",
            "Report",
            "Suggestion",
            "analyse",
            "analyse_with_report",
        ]
    )


@pytest.mark.parametrize(("days", "seed"), [(14, 0), (14, 1), (21, 2), (28, 3)])
def test_a_healthy_plugin_gets_no_suggestion_at_all(days: int, seed: int) -> None:
    report = analyse_with_report(healthy(days, seed), CONTEXT)
    assert report.suggestions == []
    assert report.skipped == []  # it was judged healthy, not left unjudged
    assert {n.analysis for n in report.clear} >= {"leak", "capacity", "cpu", "peaks"}


def test_a_healthy_plugin_with_gaps_and_irregular_steps_gets_no_suggestion() -> None:
    frame = healthy(14, 4)
    rng = np.random.default_rng(4)
    frame = frame[rng.random(len(frame)) > 0.25]
    frame.index = frame.index + np.asarray(rng.integers(-60, 60, len(frame)), dtype="timedelta64[s]")
    frame = frame.mask(rng.random(frame.shape) < 0.05)  # scattered missing fields
    assert analyse(frame, CONTEXT) == []


def test_a_short_history_gets_no_suggestion_and_says_why() -> None:
    frame, _ = with_leak(healthy(1), 50.0)  # a steep leak, but one day proves nothing
    report = analyse_with_report(frame, CONTEXT)
    assert report.suggestions == []
    reasons = {n.analysis: n.reason for n in report.skipped}
    assert {"leak", "errors", "peaks"} <= set(reasons)
    assert all("needs" in reason for reason in reasons.values())


def test_an_empty_history_is_skipped() -> None:
    report = analyse_with_report(healthy(1).iloc[:0], CONTEXT)
    assert report.suggestions == [] and report.skipped


def test_several_faults_are_all_found_high_priority_first_and_are_json_safe() -> None:
    frame, _ = with_leak(with_knee(healthy(14)), 5.0)
    report = analyse_with_report(frame, PluginContext(memory_limit_mb=2900, cpu_cores=1))
    found = [s.finding for s in report.suggestions]
    assert {"memory_leak", "capacity_knee"} <= set(found)
    order = {"High": 0, "Medium": 1, "Low": 2}
    ranks = [order[s.priority.value] for s in report.suggestions]
    assert ranks == sorted(ranks)
    payload = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    for suggestion in payload["suggestions"]:
        assert set(suggestion) == {"finding", "title", "priority", "evidence", "expected_effect", "steps", "model"}
        assert suggestion["steps"] and suggestion["expected_effect"] and suggestion["model"]
        for effect in suggestion["expected_effect"]:
            assert set(effect) == {"metric", "change", "unit", "at", "explanation"}
        assert "window" in suggestion["evidence"]
        assert untraced(suggestion) == []


def test_a_history_without_a_datetime_index_is_refused() -> None:
    with pytest.raises(ValueError, match="DatetimeIndex"):
        analyse(healthy(1).reset_index(drop=True), CONTEXT)


def test_constant_and_all_zero_series_are_judged_without_warnings_or_errors() -> None:
    frame = healthy(14)
    frame["error_rate"] = 0.0  # the commonest real error series
    frame["response_time_ms"] = 100.0
    frame["memory_mb"] = 512.0
    frame["cpu_percent"] = 95.0  # saturated, with a latency that does not move
    report = analyse_with_report(frame, CONTEXT)
    assert [s.finding for s in report.suggestions] == ["cpu_saturation"]
    for suggestion in report.suggestions:
        assert untraced(suggestion.to_dict()) == []


@pytest.mark.parametrize("metric", ["cpu_percent", "memory_mb", "response_time_ms", "error_rate", "request_count"])
def test_a_single_metric_is_enough_to_run(metric: str) -> None:
    report = analyse_with_report(healthy(14)[[metric]], CONTEXT)
    assert report.suggestions == []
