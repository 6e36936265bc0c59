"""Recommended actions: which known incident pattern an event matches, and what to do about it.

Rules are read top to bottom and the first match wins, so the most specific patterns (a steady
memory climb, slow-and-failing with flat load) come before the generic ones.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .events import Diagnosis, MetricEvidence

__all__ = ["diagnose", "steady_climb"]

_LOAD = ("request_count", "active_users")
_LATENCY = ("response_time_ms", "response_time_p95_ms")


def steady_climb(values: np.ndarray, min_samples: int = 24) -> bool:
    """True when ``values`` rise steadily: a clear positive trend that explains most of the variance.

    Leaks climb without coming back down; a fit of a line must be good (R^2 >= 0.8), rising, and
    most steps must not go down.
    """
    v = np.asarray(values, dtype=float)
    if len(v) < min_samples or not np.all(np.isfinite(v)):
        return False
    t = np.arange(len(v), dtype=float)
    slope, intercept = np.polyfit(t, v, 1)
    resid = v - (slope * t + intercept)
    total = float(((v - v.mean()) ** 2).sum())
    if slope <= 0 or total <= 0:
        return False
    r2 = 1.0 - float((resid**2).sum()) / total
    rising_steps = float((np.diff(v) >= 0).mean())
    return r2 >= 0.8 and rising_steps >= 0.6


def _up(ev: Mapping[str, MetricEvidence], *names: str) -> bool:
    return any(n in ev and ev[n].direction == "up" for n in names)


def _down(ev: Mapping[str, MetricEvidence], *names: str) -> bool:
    return any(n in ev and ev[n].direction == "down" for n in names)


def diagnose(evidence: Mapping[str, MetricEvidence], memory_climbing: bool = False) -> Diagnosis:
    """Pick the pattern and actions for an event from the metrics that moved and how.

    ``evidence`` holds only the metrics involved in the event; a metric absent from it is
    considered flat. ``memory_climbing`` is :func:`steady_climb` over recent memory samples.
    """
    load_up = _up(evidence, *_LOAD)
    load_flat = not any(n in evidence for n in _LOAD)

    if memory_climbing and ("memory_mb" in evidence or not evidence):
        return Diagnosis(
            "suspected_memory_leak",
            "Memory is climbing steadily without coming back down.",
            [
                "Take two heap profiles some minutes apart (tracemalloc, memray, or the runtime's heap dump) "
                "and diff them to find the allocation that grows.",
                "Check caches, queues and module-level collections for missing bounds or eviction.",
                "Set a memory limit with a restart policy as a stop-gap until the leak is fixed.",
                "After the next restart, confirm a sawtooth pattern (growth, restart, growth).",
            ],
        )
    if _up(evidence, *_LATENCY) and _up(evidence, "error_rate") and not load_up:
        return Diagnosis(
            "dependency_failure",
            "Latency and errors rose together while load stayed flat: a dependency is failing or slow.",
            [
                "Check the health and latency of downstream dependencies (database, cache, external APIs).",
                "Fail fast: open a circuit breaker on the failing dependency, set timeouts and bounded "
                "retries with backoff.",
                "Search the error logs since the event start for timeout and connection errors.",
            ],
        )
    if _up(evidence, "cpu_percent") and load_up:
        return Diagnosis(
            "load_surge",
            "CPU is saturating with a surge of requests.",
            [
                "Scale out: add replicas or workers, or raise the CPU limit.",
                "Rate-limit or queue requests above the plugin's capacity.",
                "Cache the hottest responses to cut work per request.",
            ],
        )
    if _up(evidence, *_LATENCY) and load_up:
        return Diagnosis(
            "capacity_limit",
            "Response time rose with load: the plugin is past its capacity knee.",
            [
                "Scale out before the next peak, or raise worker / connection-pool sizes.",
                "Profile the slowest endpoints under load.",
                "Apply back-pressure (rate limit) so latency stays bounded.",
            ],
        )
    if _up(evidence, "error_rate"):
        return Diagnosis(
            "error_burst",
            "The error rate jumped.",
            [
                "Check deploys and configuration changes just before the event start; roll back if one matches.",
                "Group the errors in the logs by type and endpoint to find the failing path.",
                "Check input validation and upstream payload changes.",
            ],
        )
    if _up(evidence, *_LATENCY) and load_flat:
        return Diagnosis(
            "latency_regression",
            "Response time rose while load stayed flat.",
            [
                "Profile the request path (py-spy, a tracing span breakdown) to find the slow step.",
                "Check lock contention, garbage-collection pauses and downstream latency.",
                "Compare with the last deploy: a regression there is the usual cause.",
            ],
        )
    if _up(evidence, "cpu_percent") and load_flat:
        return Diagnosis(
            "cpu_runaway",
            "CPU rose without more requests: work the users did not ask for.",
            [
                "Profile CPU (py-spy top / dump) to find the busy code.",
                "Check background jobs, busy loops, retry storms and garbage-collection pressure.",
                "Cap the plugin's CPU so it cannot starve its neighbours.",
            ],
        )
    if _down(evidence, *_LOAD):
        return Diagnosis(
            "traffic_drop",
            "Requests or users fell sharply.",
            [
                "Check upstream routing, load-balancer health checks and DNS for this plugin.",
                "Look for client-side errors that stop requests before they arrive.",
                "Compare with the calendar (holiday, scheduled maintenance) before escalating.",
            ],
        )
    if _up(evidence, "memory_mb"):
        return Diagnosis(
            "memory_spike",
            "Memory jumped.",
            [
                "Check for oversized payloads or batches in the requests at the event start.",
                "Set a memory limit so one plugin cannot exhaust the host.",
            ],
        )
    return Diagnosis(
        "unusual_behaviour",
        "The metrics left their usual pattern.",
        [
            "Compare the charts around the event start with deploys, configuration changes and traffic.",
            "If the change was expected, mark the event as a false alarm: events of the same shape "
            "will then be suppressed for this plugin.",
        ],
    )
