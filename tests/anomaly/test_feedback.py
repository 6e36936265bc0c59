"""Operator feedback: a false alarm suppresses later events of the same shape for that plugin."""

from __future__ import annotations

import pytest

from plugin_ai_analytics.anomaly import EventShape, FeedbackMemory, PluginDetector

from .conftest import stream


def nightly_job(i: int, s: dict) -> dict:
    # A planned batch job: CPU up, nothing else moves.
    return {**s, "cpu_percent": s["cpu_percent"] + 25.0}


def errors(i: int, s: dict) -> dict:
    return {**s, "error_rate": 0.3}


@pytest.mark.slow
def test_false_alarm_suppresses_the_same_shape_but_not_others(warmed_state: dict) -> None:
    with_feedback = PluginDetector.from_state(warmed_state)
    control = PluginDetector.from_state(warmed_state)  # the same history, no feedback

    first = [v for v in stream(with_feedback, 5, nightly_job, 4, seed=8, offset=700) if v.alert]
    assert len(first) == 1
    with_feedback.record_feedback(first[0].event.shape, "false_alarm")
    for _ in stream(control, 5, nightly_job, 4, seed=8, offset=700):
        pass

    # The job runs again days later; the control (same history, no feedback) proves it is
    # still anomalous enough to alert, so only the feedback can silence it.
    gap = 1100
    again = list(stream(with_feedback, gap, nightly_job, 4, seed=9, offset=709))
    again_control = list(stream(control, gap, nightly_job, 4, seed=9, offset=709))
    assert any(v.alert for v in again_control[gap:]), "without feedback the job alerts again"
    assert not any(v.alert for v in again[gap:])
    suppressed = [v.event for v in again[gap:] if v.event is not None]
    assert suppressed and all(e.suppressed for e in suppressed)
    assert all(v.incident_score == 0.0 for v in again[gap:])

    # A different shape (an error burst) is not suppressed: it is an event that alerts (or, if
    # an unsuppressed error-rate event alerted moments before, extends that one).
    later = list(stream(with_feedback, 150, errors, 3, seed=10, offset=709 + gap + 4))
    burst = [v.event for v in later[150:] if v.event is not None]
    assert burst and not any(e.suppressed for e in burst)
    assert "error_rate" in burst[-1].metrics


def test_feedback_memory_rules() -> None:
    mem = FeedbackMemory()
    weak = EventShape(("cpu_percent",), "spike", "up", 0)
    strong = EventShape(("cpu_percent",), "spike", "up", 2)
    other_direction = EventShape(("cpu_percent",), "spike", "down", 0)
    mem.record(weak, "false_alarm")
    assert mem.suppresses(weak)
    assert not mem.suppresses(strong), "a much stronger event of the same shape still alerts"
    assert not mem.suppresses(other_direction)
    mem.record(weak, "confirmed")
    assert not mem.suppresses(weak), "confirming a shape lifts its suppression"
    restored = FeedbackMemory.from_state(mem.to_state())
    assert len(restored) == 0
