"""The severity rule, on events where the right answer is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugin_ai_analytics.anomaly import (
    Diagnosis,
    Event,
    EventShape,
    MetricEvidence,
    PluginDetector,
    Severity,
    severity_of,
)

from .conftest import stream

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def event(metric: str, score: float, observed: float, minutes: int) -> Event:
    # Expected 10, normal band 7 .. 13 (half-width 3): observed 22 is 3 half-widths outside.
    evidence = {metric: MetricEvidence(metric, observed, 10.0, 7.0, 13.0, score, "discord1", "up")}
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
    assert severity_of(event("error_rate", 0.55, 22.0, 0)) is Severity.HIGH


def test_brief_cpu_wobble_just_outside_the_band_is_low() -> None:
    assert severity_of(event("cpu_percent", 0.45, 14.0, 5)) is Severity.LOW


def test_the_same_deviation_matters_more_on_a_user_facing_metric() -> None:
    assert severity_of(event("cpu_percent", 0.55, 14.0, 5)) is Severity.LOW
    assert severity_of(event("response_time_ms", 0.55, 14.0, 5)) is Severity.MEDIUM


def test_duration_and_extreme_scores_raise_severity() -> None:
    assert severity_of(event("memory_mb", 0.55, 14.0, 45)) is Severity.MEDIUM
    assert severity_of(event("memory_mb", 0.85, 14.0, 45)) is Severity.HIGH


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
