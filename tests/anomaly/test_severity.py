"""The severity rule, on events where the right answer is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugin_ai_analytics.anomaly import (
    Diagnosis,
    Event,
    EventShape,
    MetricEvidence,
    PluginContext,
    PluginDetector,
    Severity,
    severity_of,
)

from .conftest import stream

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def event(metric: str, score: float, observed: float, minutes: int, expected: float = 10.0, half: float = 3.0) -> Event:
    # By default expected 10, normal band 7 .. 13 (half-width 3): observed 22 is 3 half-widths outside.
    lower, upper = expected - half, expected + half
    evidence = {metric: MetricEvidence(metric, observed, expected, lower, upper, score, "discord1", "up")}
    return Event(
        event_id="e",
        start=T0,
        end=T0 + timedelta(minutes=minutes),
        metrics=[metric],
        kind="spike",
        peak_score=score,
        peak_at=T0,
        severity=Severity.LOW,
        evidence=evidence,
        diagnosis=Diagnosis("x", "", []),
        shape=EventShape((metric,), "spike", "up", 0),
    )


def test_error_rate_spike_far_outside_its_band_is_high_even_when_brief() -> None:
    # 10 % -> 22 % errors, band 7 .. 13 %
    assert severity_of(event("error_rate", 0.55, 0.22, 0, expected=0.10, half=0.03)) is Severity.HIGH


def test_brief_cpu_wobble_just_outside_the_band_is_low() -> None:
    assert severity_of(event("cpu_percent", 0.45, 140.0, 5, expected=100.0, half=30.0)) is Severity.LOW


def test_the_same_deviation_matters_more_on_a_user_facing_metric() -> None:
    # +40 points of CPU and +40 ms of latency, both above their floors
    assert severity_of(event("cpu_percent", 0.55, 140.0, 5, expected=100.0, half=30.0)) is Severity.LOW
    assert severity_of(event("response_time_ms", 0.55, 140.0, 5, expected=100.0, half=30.0)) is Severity.MEDIUM


def test_duration_and_extreme_scores_raise_severity() -> None:
    assert severity_of(event("memory_mb", 0.55, 140.0, 45, expected=100.0, half=30.0)) is Severity.MEDIUM
    assert severity_of(event("memory_mb", 0.85, 140.0, 45, expected=100.0, half=30.0)) is Severity.HIGH


# -- issue 10 #3: severity weighs the absolute change against floors and the plugin's limits


def test_a_tiny_cpu_spike_is_low_however_unusual() -> None:
    """The reported case: a "High spike" for CPU 0.60 % of one core, expected 0.13 %."""
    tiny = event("cpu_percent", 1.0, 0.60, 45, expected=0.13, half=0.05)
    assert severity_of(tiny) is Severity.LOW
    # the same statistics for a change of +47 points of a core are High
    assert severity_of(event("cpu_percent", 1.0, 60.0, 45, expected=13.0, half=5.0)) is Severity.HIGH


def test_a_small_level_shift_is_low() -> None:
    """The reported "Medium level shift" from 0.066 % to 0.134 % CPU."""
    assert severity_of(event("cpu_percent", 0.6, 0.134, 45, expected=0.066, half=0.01)) is Severity.LOW


def test_each_metric_has_its_floor() -> None:
    assert severity_of(event("response_time_ms", 1.0, 58.0, 45, expected=50.0, half=2.0)) is Severity.LOW  # +8 ms
    assert severity_of(event("response_time_ms", 1.0, 75.0, 45, expected=50.0, half=2.0)) is Severity.HIGH  # +25 ms
    assert severity_of(event("error_rate", 1.0, 0.008, 45, expected=0.001, half=0.001)) is Severity.LOW  # +0.7 pt
    assert severity_of(event("error_rate", 1.0, 0.051, 45, expected=0.001, half=0.001)) is Severity.HIGH  # +5 pt
    # memory: 20 MiB without a limit, 1 % of the limit with one
    assert severity_of(event("memory_mb", 1.0, 515.0, 45, expected=500.0, half=3.0)) is Severity.LOW
    assert severity_of(event("memory_mb", 1.0, 530.0, 45, expected=500.0, half=3.0)) is Severity.HIGH
    big_box = PluginContext(memory_limit_mb=8192.0)  # floor 82 MiB
    assert severity_of(event("memory_mb", 1.0, 560.0, 45, expected=500.0, half=3.0), big_box) is Severity.LOW


def test_floors_are_configurable_and_unknown_metrics_have_none() -> None:
    strict = PluginContext(floors={"cpu_percent": 0.1})
    assert severity_of(event("cpu_percent", 1.0, 0.60, 45, expected=0.13, half=0.05), strict) is Severity.HIGH
    assert severity_of(event("value", 1.0, 0.60, 45, expected=0.13, half=0.05)) is Severity.HIGH


def test_a_value_near_the_plugins_limit_adds_a_point() -> None:
    spike = event("cpu_percent", 0.55, 95.0, 5, expected=40.0, half=10.0)  # 2 points: Medium
    assert severity_of(spike) is Severity.MEDIUM
    assert severity_of(spike, PluginContext(cpu_limit_percent=100.0)) is Severity.HIGH


def test_end_to_end_error_burst_is_high_and_cpu_blip_is_low(warmed_state: dict) -> None:
    def errors(i: int, s: dict) -> dict:
        return {**s, "error_rate": 0.3}

    det = PluginDetector.from_state(warmed_state)
    opened = [v.event for v in stream(det, 10, errors, 3, seed=7, offset=700) if v.alert]
    assert opened and opened[0].severity is Severity.HIGH

    def blip(i: int, s: dict) -> dict:
        return {**s, "cpu_percent": s["cpu_percent"] + 9.0}  # a single ~9-sigma CPU sample

    det = PluginDetector.from_state(warmed_state)
    opened = [v.event for v in stream(det, 10, blip, 1, seed=7, offset=700) if v.alert]
    assert opened and opened[0].severity is Severity.LOW
