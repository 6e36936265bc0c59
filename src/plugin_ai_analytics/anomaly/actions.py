"""Recommended actions: which known incident pattern an event matches, and what to do about it.

Rules are read top to bottom and the first match wins, so the most specific patterns (a steady
memory climb, slow-and-failing with flat load) come before the generic ones. A diagnosis cites
only metrics the plugin reports: "load stayed flat" needs a request count or active users, and
without them the summary says load is unknown. Actions are proportional to the size: a change
below the metric's operational floor gets "no action needed at this size", never "cap the CPU".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .context import PluginContext
from .events import Diagnosis, MetricEvidence, below_floors

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


_LOAD_UNKNOWN = "This plugin reports no request count or active users, so whether load changed is unknown."
_SEND_LOAD = "Send request_count (and active_users) with the samples so that load can be told apart from a fault."


def _up(ev: Mapping[str, MetricEvidence], *names: str) -> bool:
    return any(n in ev and ev[n].direction == "up" for n in names)


def _down(ev: Mapping[str, MetricEvidence], *names: str) -> bool:
    return any(n in ev and ev[n].direction == "down" for n in names)


def _change(metric: str, ev: MetricEvidence) -> str:
    """``cpu_percent +0.47 (0.13 -> 0.60)``: the change an operator weighs against the floor."""
    if ev.expected is None:
        return f"{metric} {ev.observed:.4g}"
    return f"{metric} {ev.observed - ev.expected:+.3g} ({ev.expected:.3g} -> {ev.observed:.3g})"


def _proportional(diagnosis: Diagnosis, evidence: Mapping[str, MetricEvidence], context: PluginContext) -> Diagnosis:
    """A change below every involved metric's floor: say so, and recommend watching, not acting."""
    # A steady climb's size is its growth over hours, not one sample's step: never "too small".
    if diagnosis.pattern == "suspected_memory_leak" or not below_floors(dict(evidence), context):
        return diagnosis
    sizes = ", ".join(
        f"{_change(m, ev)}, floor {context.floor(m):g}" for m, ev in evidence.items() if context.floor(m) is not None
    )
    first = diagnosis.actions[0] if diagnosis.actions else ""
    actions = [
        "No action needed at this size: the change is below the operational floor; the event is kept for context."
    ]
    if first:
        actions.append(f"If it recurs or grows past the floor: {first[0].lower()}{first[1:]}")
    return Diagnosis(diagnosis.pattern, f"Small change ({sizes}). {diagnosis.summary}", actions)


def diagnose(
    evidence: Mapping[str, MetricEvidence],
    memory_climbing: bool = False,
    reported: Iterable[str] | None = None,
    context: PluginContext | None = None,
) -> Diagnosis:
    """Pick the pattern and actions for an event from the metrics that moved and how.

    ``evidence`` holds only the metrics involved in the event; a metric the plugin reports
    (``reported``, default: only those in ``evidence``) but absent from it is considered flat,
    and one it does not report is unknown. ``memory_climbing`` is :func:`steady_climb` over
    recent memory samples. ``context`` gives the floors and limits (defaults when None).
    """
    context = context or PluginContext()
    return _proportional(_pattern(evidence, memory_climbing, reported, context), evidence, context)


def _pattern(
    evidence: Mapping[str, MetricEvidence],
    memory_climbing: bool,
    reported: Iterable[str] | None,
    context: PluginContext,
) -> Diagnosis:
    known = set(evidence) | set(reported if reported is not None else ())
    load_known = any(n in known for n in _LOAD)
    load_up = _up(evidence, *_LOAD)
    load_flat = load_known and not any(n in evidence for n in _LOAD)

    if memory_climbing and ("memory_mb" in evidence or not evidence):
        return Diagnosis(
            "suspected_memory_leak",
            "Memory is climbing steadily without coming back down.",
            [
                "Take two heap profiles some minutes apart (tracemalloc, memray, or the runtime's heap dump) "
                "and diff them to find the allocation that grows.",
                "Check caches, queues and module-level collections for missing bounds or eviction.",
                "Set a memory limit with a restart policy as a stop-gap until the leak is fixed."
                if context.memory_limit_mb is None
                else "Keep the restart policy on the memory limit as a stop-gap until the leak is fixed.",
                "After the next restart, confirm a sawtooth pattern (growth, restart, growth).",
            ],
        )
    if _up(evidence, *_LATENCY) and _up(evidence, "error_rate") and not load_up:
        dependency_actions = [
            "Check the health and latency of downstream dependencies (database, cache, external APIs).",
            "Fail fast: open a circuit breaker on the failing dependency, set timeouts and bounded "
            "retries with backoff.",
            "Search the error logs since the event start for timeout and connection errors.",
        ]
        if load_flat:
            return Diagnosis(
                "dependency_failure",
                "Latency and errors rose together while load stayed flat: a dependency is failing or slow.",
                dependency_actions,
            )
        return Diagnosis(
            "dependency_failure",
            "Latency and errors rose together: a failing or slow dependency is the usual cause. " + _LOAD_UNKNOWN,
            [*dependency_actions, _SEND_LOAD],
        )
    if _up(evidence, "cpu_percent") and load_up:
        cpu = evidence["cpu_percent"]
        near = context.near_limit("cpu_percent", cpu.observed)
        return Diagnosis(
            "load_surge",
            "CPU rose with a surge of requests" + (", close to the plugin's CPU limit." if near else "."),
            [
                "Scale out: add replicas or workers"
                + (", or raise the CPU limit." if context.cpu_limit_percent is not None else "."),
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
    if _up(evidence, *_LATENCY) and not load_up:
        latency_actions = [
            "Profile the request path (py-spy, a tracing span breakdown) to find the slow step.",
            "Check lock contention, garbage-collection pauses and downstream latency.",
            "Compare with the last deploy: a regression there is the usual cause.",
        ]
        if load_flat:
            return Diagnosis("latency_regression", "Response time rose while load stayed flat.", latency_actions)
        return Diagnosis("latency_rise", "Response time rose. " + _LOAD_UNKNOWN, [*latency_actions, _SEND_LOAD])
    if _up(evidence, "cpu_percent") and not load_up:
        cpu = evidence["cpu_percent"]
        cpu_actions = [
            "Profile CPU (py-spy top / dump) to find the busy code.",
            "Check background jobs, busy loops, retry storms and garbage-collection pressure.",
        ]
        if context.near_limit("cpu_percent", cpu.observed):
            cpu_actions.append("The plugin is at its CPU limit: its requests queue until the busy code is fixed.")
        elif context.cpu_limit_percent is None:
            cpu_actions.append("Set a CPU limit for this plugin so it cannot starve its neighbours.")
        if load_flat:
            return Diagnosis(
                "cpu_runaway", "CPU rose without more requests: work the users did not ask for.", cpu_actions
            )
        return Diagnosis("cpu_rise", "CPU rose. " + _LOAD_UNKNOWN, [*cpu_actions, _SEND_LOAD])
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
        memory = evidence["memory_mb"]
        limit_action = (
            "Set a memory limit so one plugin cannot exhaust the host."
            if context.memory_limit_mb is None
            else f"Memory is at {100 * memory.observed / context.memory_limit_mb:.0f} % of the plugin's "
            f"{context.memory_limit_mb:g} MiB limit."
        )
        return Diagnosis(
            "memory_spike",
            "Memory jumped.",
            ["Check for oversized payloads or batches in the requests at the event start.", limit_action],
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
