"""Recommended actions follow the incident's pattern, on constructed incidents with a known cause."""

from __future__ import annotations

import numpy as np

from plugin_ai_analytics.anomaly import Event, MetricEvidence, PluginDetector
from plugin_ai_analytics.anomaly.actions import diagnose, steady_climb

from .conftest import stream


def last_event(verdicts: list) -> Event:
    events = [v.event for v in verdicts if v.event is not None]
    assert events, "the incident opened no event"
    return events[-1]


def test_memory_climbing_steadily_is_diagnosed_as_a_leak(warmed: PluginDetector) -> None:
    def leak(i: int, s: dict) -> dict:
        return {**s, "memory_mb": s["memory_mb"] + 2.0 * i}  # +2 MiB every 5 minutes, never released

    event = last_event(list(stream(warmed, 20, leak, 120, seed=3, offset=700)))
    assert "memory_mb" in event.metrics
    assert event.diagnosis.pattern == "suspected_memory_leak"
    assert any("heap" in a for a in event.diagnosis.actions)
    assert any("restart" in a for a in event.diagnosis.actions)


def test_latency_and_errors_up_with_flat_load_is_a_dependency_failure(warmed: PluginDetector) -> None:
    def downstream_down(i: int, s: dict) -> dict:
        return {**s, "response_time_ms": s["response_time_ms"] * 4, "error_rate": 0.25}

    event = last_event(list(stream(warmed, 20, downstream_down, 12, seed=4, offset=700)))
    assert {"response_time_ms", "error_rate"} <= set(event.metrics)
    assert "request_count" not in event.metrics
    assert event.diagnosis.pattern == "dependency_failure"
    assert any("circuit breaker" in a for a in event.diagnosis.actions)


def test_cpu_saturated_with_a_request_surge_calls_for_scaling_out(warmed: PluginDetector) -> None:
    def surge(i: int, s: dict) -> dict:
        return {
            **s,
            "request_count": s["request_count"] * 3,
            "active_users": s["active_users"] * 3,
            "cpu_percent": 98.0,
        }

    event = last_event(list(stream(warmed, 20, surge, 12, seed=6, offset=700)))
    assert event.diagnosis.pattern == "load_surge"
    assert any("Scale out" in a for a in event.diagnosis.actions)
    assert any("Rate-limit" in a for a in event.diagnosis.actions)


def ev(metric: str, direction: str) -> MetricEvidence:
    return MetricEvidence(metric, 1.0, 0.5, 0.4, 0.6, 0.7, "discord1", direction)


def test_rule_order_specific_patterns_win_over_generic_ones() -> None:
    latency_errors = {"response_time_ms": ev("response_time_ms", "up"), "error_rate": ev("error_rate", "up")}
    assert diagnose(latency_errors).pattern == "dependency_failure"
    # The same symptoms with load rising are a capacity problem, not a broken dependency.
    with_load = {**latency_errors, "request_count": ev("request_count", "up")}
    assert diagnose(with_load).pattern == "capacity_limit"
    assert diagnose({"error_rate": ev("error_rate", "up")}).pattern == "error_burst"
    # "without more requests" needs a request count to stand on (issue 10 #4)
    assert diagnose({"cpu_percent": ev("cpu_percent", "up")}, reported=["request_count"]).pattern == "cpu_runaway"
    assert diagnose({"cpu_percent": ev("cpu_percent", "up")}).pattern == "cpu_rise"
    assert diagnose({"request_count": ev("request_count", "down")}).pattern == "traffic_drop"
    assert diagnose({"value": ev("value", "up")}).pattern == "unusual_behaviour"


def test_steady_climb_needs_a_clean_rising_trend() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(36.0)
    assert steady_climb(500 + 2 * t + rng.normal(0, 1, 36))
    assert not steady_climb(500 + rng.normal(0, 3, 36))  # noise
    assert not steady_climb(500 + 20 * np.sin(t / 3))  # a wave goes back down
    assert not steady_climb(500 - 2 * t)  # falling
