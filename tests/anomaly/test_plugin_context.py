"""What the service tells the detector about a plugin (issue 10 #3-#5): its limits and the floors
below which a change does not matter. Severity, the evidence's band and the diagnosis use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from plugin_ai_analytics.anomaly import MetricEvidence, PluginContext, PluginDetector, Severity
from plugin_ai_analytics.anomaly.actions import diagnose

START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)


def idle_cpu_plugin(spike: float, context: PluginContext | None = None, **samples: float):
    """A plugin that reports only CPU, idling at ~0.13 % of a core (quantised like CloudWatch's
    0.066 / 0.134 readings), then one spike; returns the event the spike opened."""
    rng = np.random.default_rng(5)
    det = PluginDetector()
    if context is not None:
        det.use_context(context)
    opened = None
    for i in range(900):
        value = float(rng.choice([0.066, 0.132, 0.134, 0.134, 0.136]))
        if i in (850, 851, 852):
            value = spike
        v = det.update(START + i * STEP, {"cpu_percent": value, **samples})
        if v.event is not None and opened is None and i >= 850:
            opened = v.event
    assert opened is not None, "the spike opened no event"
    return opened


def test_a_tiny_cpu_spike_on_an_idle_plugin_is_low_and_asks_for_no_cap() -> None:
    event = idle_cpu_plugin(0.60)
    assert event.severity is Severity.LOW
    assert not any("Cap" in a or "cap" in a for a in event.diagnosis.actions)
    assert "No action needed at this size" in event.diagnosis.actions[0]
    # the plugin sends no request counts: the diagnosis must not claim load stayed flat
    assert "without more requests" not in event.diagnosis.summary
    assert "unknown" in event.diagnosis.summary


def test_the_same_shape_at_a_size_that_matters_is_not_low() -> None:
    event = idle_cpu_plugin(60.0)
    assert event.severity is not Severity.LOW
    assert not event.diagnosis.actions[0].startswith("No action needed")


def test_the_band_in_evidence_stays_within_physics() -> None:
    """No "-1.37 .. 2.17 % CPU" band: a plugin whose CPU wanders 0 .. 2 % has a detector band
    (median +- 3 robust sigma) reaching below zero; the band shown stops at 0, and at the limit."""
    rng = np.random.default_rng(11)
    det = PluginDetector()
    det.use_context(PluginContext(cpu_limit_percent=50.0))
    events = []
    for i in range(900):
        value = float(abs(rng.normal(0.4, 0.6)))
        if i in (850, 851, 852):
            value = 80.0  # beyond the plugin's 50 % allocation (a burst the quota will throttle)
        v = det.update(START + i * STEP, {"cpu_percent": value})
        if v.event is not None:
            events.append(v.event)
    band = det.channels["cpu_percent"].band()
    assert band is not None and band.lower < 0.0, "the detector's own band reaches below zero"
    assert events
    for event in events:
        for ev in event.evidence.values():
            assert ev.lower is not None and ev.lower >= 0.0
            assert ev.upper is not None and ev.upper <= 50.0
            assert "-" not in event.explanation.split("normal band")[1].split(")")[0]


def test_context_clips_each_metric_to_its_range_and_the_plugins_limit() -> None:
    ctx = PluginContext(cpu_limit_percent=180.0, memory_limit_mb=1024.0)
    assert ctx.clip("cpu_percent", -1.37) == 0.0
    assert ctx.clip("cpu_percent", 215.5) == 180.0
    assert ctx.clip("error_rate", 1.3) == 1.0
    assert ctx.clip("memory_mb", 2048.0) == 1024.0
    assert PluginContext().clip("cpu_percent", 215.5) == 215.5  # no limit known: physics only
    assert ctx.clip("value", -5.0) == -5.0  # an unknown metric: nothing assumed


def test_context_is_immutable_and_validated() -> None:
    ctx = PluginContext(cpu_limit_percent=100.0)
    with pytest.raises(AttributeError):
        ctx.cpu_limit_percent = 200.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        PluginContext(memory_limit_mb=0.0)
    with pytest.raises(ValueError):
        PluginContext(floors={"cpu_percent": -1.0})
    assert ctx.floor("memory_mb") == 20.0
    assert PluginContext(memory_limit_mb=4096.0).floor("memory_mb") == pytest.approx(40.96)


def test_a_changed_limit_is_seen_on_the_next_sample() -> None:
    det = PluginDetector()
    det.use_context(PluginContext(cpu_limit_percent=100.0))
    assert det.context.cpu_limit_percent == 100.0
    det.use_context(PluginContext(cpu_limit_percent=400.0))
    assert det.incidents.context.cpu_limit_percent == 400.0
    # the context is not learnt state: a restored detector waits for the service to hand it over
    assert PluginDetector.from_state(det.to_state()).context == PluginContext()


def ev(metric: str, observed: float, expected: float, direction: str = "up") -> MetricEvidence:
    return MetricEvidence(metric, observed, expected, expected * 0.9, expected * 1.1, 0.7, "discord1", direction)


def test_a_diagnosis_cites_only_metrics_the_plugin_reports() -> None:
    latency = {"response_time_ms": ev("response_time_ms", 300.0, 80.0)}
    assert diagnose(latency, reported=["response_time_ms", "request_count"]).pattern == "latency_regression"
    unknown = diagnose(latency, reported=["response_time_ms"])
    assert unknown.pattern == "latency_rise"
    assert "load stayed flat" not in unknown.summary and "unknown" in unknown.summary
    assert any("request_count" in a for a in unknown.actions)


def test_actions_are_proportional_to_the_size() -> None:
    small = diagnose({"cpu_percent": ev("cpu_percent", 0.60, 0.13)}, reported=["cpu_percent", "request_count"])
    assert small.pattern == "cpu_runaway"
    assert small.actions[0].startswith("No action needed")
    assert "+0.47" in small.summary and "floor 5" in small.summary
    big = diagnose({"cpu_percent": ev("cpu_percent", 97.0, 20.0)}, reported=["cpu_percent", "request_count"])
    assert big.actions[0].startswith("Profile CPU")
    at_limit = diagnose(
        {"cpu_percent": ev("cpu_percent", 97.0, 20.0)},
        reported=["cpu_percent", "request_count"],
        context=PluginContext(cpu_limit_percent=100.0),
    )
    assert any("at its CPU limit" in a for a in at_limit.actions)
