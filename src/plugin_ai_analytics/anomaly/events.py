"""The records the anomaly engine speaks in: evidence, events, severity and the per-sample verdict.

Plain dataclasses with ``to_dict()`` so the service can store them and the API can return them.
The severity rule lives here, in one function, because operators must be able to read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .context import PluginContext

__all__ = [
    "CRITICAL_METRICS",
    "Diagnosis",
    "Event",
    "EventShape",
    "MetricEvidence",
    "Severity",
    "Verdict",
    "below_floors",
    "severity_of",
]

_DEFAULT_CONTEXT = PluginContext()

# Metrics whose anomalies users feel directly (failed or slow requests); a CPU wobble is not.
CRITICAL_METRICS = frozenset({"error_rate", "response_time_ms", "response_time_p95_ms"})


class Severity(StrEnum):
    """How urgently an operator should look: High pages, Medium tickets, Low is informational."""

    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"


@dataclass(slots=True)
class MetricEvidence:
    """One metric's observed value against what was expected, at that metric's peak score."""

    metric: str
    observed: float
    expected: float | None
    lower: float | None
    upper: float | None
    score: float  # this metric's 0-1 score
    detector: str  # the signal that carried it: discord1, discord8, level_shift, seasonal, ...
    direction: str  # "up", "down" or "pattern" (in range but shaped wrong)

    @property
    def band_distance(self) -> float:
        """How far outside the band, in band half-widths (0 inside; 1 = as far again as the band)."""
        if self.expected is None or self.lower is None or self.upper is None:
            return 0.0
        if self.observed > self.upper:
            half = max(self.upper - self.expected, 1e-12)
            return (self.observed - self.upper) / half
        if self.observed < self.lower:
            half = max(self.expected - self.lower, 1e-12)
            return (self.lower - self.observed) / half
        return 0.0

    def describe(self) -> str:
        if self.expected is None:
            return f"{self.metric} = {self.observed:.4g} ({self.detector})"
        return (
            f"{self.metric} = {self.observed:.4g}, expected {self.expected:.4g} "
            f"(normal band {self.lower:.4g} .. {self.upper:.4g}), {self.direction}, via {self.detector}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "observed": self.observed,
            "expected": self.expected,
            "lower": self.lower,
            "upper": self.upper,
            "score": self.score,
            "detector": self.detector,
            "direction": self.direction,
            "band_distance": self.band_distance,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricEvidence:
        return cls(
            d["metric"],
            d["observed"],
            d["expected"],
            d["lower"],
            d["upper"],
            d["score"],
            d["detector"],
            d["direction"],
        )


@dataclass(frozen=True, slots=True)
class EventShape:
    """What makes two events "the same kind of thing" for operator feedback."""

    metrics: tuple[str, ...]  # sorted
    kind: str  # coarse: "deviation", "shift" or "trend"
    direction: str
    magnitude: int  # 0 = score < 0.5, 1 = < 0.8, 2 = above: stronger events are not suppressed

    @staticmethod
    def magnitude_of(score: float) -> int:
        return 0 if score < 0.5 else (1 if score < 0.8 else 2)

    def key(self) -> str:
        return f"{'+'.join(self.metrics)}|{self.kind}|{self.direction}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "kind": self.kind,
            "direction": self.direction,
            "magnitude": self.magnitude,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EventShape:
        return cls(tuple(sorted(d["metrics"])), d["kind"], d["direction"], int(d["magnitude"]))


@dataclass(slots=True)
class Diagnosis:
    """The pattern an event matches and what to do about it, in order."""

    pattern: str  # e.g. "suspected_memory_leak", "dependency_failure"
    summary: str
    actions: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "summary": self.summary, "actions": list(self.actions)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diagnosis:
        return cls(d["pattern"], d["summary"], list(d["actions"]))


@dataclass(slots=True)
class Event:
    """One incident: consecutive anomalous samples of a plugin merged, with its evidence and advice."""

    event_id: str
    start: datetime
    end: datetime  # last anomalous sample so far
    metrics: list[str]
    kind: str
    peak_score: float
    peak_at: datetime
    severity: Severity
    evidence: dict[str, MetricEvidence]
    diagnosis: Diagnosis
    shape: EventShape
    samples: int = 1  # anomalous samples in the event
    is_open: bool = True
    suppressed: bool = False  # matches a shape the operator marked as a false alarm
    moved_together: list[str] = field(default_factory=list)
    alerted: bool = False  # the event has paged (at its opening, or later once confirmed)

    @property
    def duration_seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def explanation(self) -> str:
        parts = [ev.describe() for ev in self.evidence.values()]
        together = ""
        if len(self.moved_together) > 1:
            together = f"; moved together: {', '.join(self.moved_together)}"
        return f"{self.kind} since {self.start.isoformat()}: " + "; ".join(parts) + together

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "metrics": list(self.metrics),
            "kind": self.kind,
            "peak_score": self.peak_score,
            "peak_at": self.peak_at.isoformat(),
            "severity": self.severity.value,
            "evidence": {k: v.to_dict() for k, v in self.evidence.items()},
            "diagnosis": self.diagnosis.to_dict(),
            "shape": self.shape.to_dict(),
            "samples": self.samples,
            "is_open": self.is_open,
            "suppressed": self.suppressed,
            "moved_together": list(self.moved_together),
            "alerted": self.alerted,
            "explanation": self.explanation,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(
            event_id=d["event_id"],
            start=datetime.fromisoformat(d["start"]),
            end=datetime.fromisoformat(d["end"]),
            metrics=list(d["metrics"]),
            kind=d["kind"],
            peak_score=float(d["peak_score"]),
            peak_at=datetime.fromisoformat(d["peak_at"]),
            severity=Severity(d["severity"]),
            evidence={k: MetricEvidence.from_dict(v) for k, v in d["evidence"].items()},
            diagnosis=Diagnosis.from_dict(d["diagnosis"]),
            shape=EventShape.from_dict(d["shape"]),
            samples=int(d["samples"]),
            is_open=bool(d["is_open"]),
            suppressed=bool(d["suppressed"]),
            moved_together=list(d["moved_together"]),
            alerted=bool(d.get("alerted", not d["suppressed"])),
        )


@dataclass(slots=True)
class Verdict:
    """The engine's answer for one sample."""

    timestamp: datetime
    score: float  # fused 0-1 anomaly score of this sample (0 while warming up)
    # The score as a signal of a *new* incident: equal to ``score`` when no incident is open or
    # cooling down, 0 otherwise (that incident has already been alerted). This is what the
    # detect CSV writes as anomaly_score.
    incident_score: float
    metric_scores: dict[str, float]
    anomalous: bool  # score above the alert threshold
    # The event pages on this sample (at most once per event: where it opens if a metric is at a
    # new extreme, else once it has persisted; never when suppressed): notify the operator.
    alert: bool
    event: Event | None  # the event this sample belongs to (open or just closed), if any
    closed: bool = False  # ``event`` closed on this sample (recovery)
    warming_up: bool = False
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp.isoformat(),
            "score": self.score,
            "incident_score": self.incident_score,
            "metric_scores": dict(self.metric_scores),
            "anomalous": self.anomalous,
            "alert": self.alert,
            "event": self.event.to_dict() if self.event else None,
            "closed": self.closed,
            "warming_up": self.warming_up,
            "message": self.message,
        }


def severity_of(event: Event, context: PluginContext | None = None) -> Severity:
    """The documented severity rule: points for score, metric, distance, duration and limits,
    capped by the operational floors.

    * peak score >= 0.8 (tail probability <= 1e-8): 2 points; >= 0.5 (<= 1e-5): 1 point;
    * a user-facing metric involved (error rate, response time): 1 point;
    * a metric more than 2 band half-widths outside its normal band: 1 point;
    * lasting 30 minutes or more: 1 point;
    * a metric at 90 % or more of the plugin's limit (its CPU allocation, its memory limit): 1 point.

    3 points or more is High, 2 is Medium, fewer is Low. Then the floors (``context``, defaults
    ``DEFAULT_FLOORS``): when every involved metric that has a floor moved less than it (CPU less
    than 5 points of a core, memory less than 1 % of the plugin's limit or 20 MiB without one,
    latency less than 10 ms, error rate less than 1 point), and no involved metric lacks a floor,
    the event is at most Low, however unusual: a 0.13 % -> 0.60 % CPU spike is Low.
    """
    context = context or _DEFAULT_CONTEXT
    points = 2 if event.peak_score >= 0.8 else (1 if event.peak_score >= 0.5 else 0)
    if CRITICAL_METRICS & set(event.metrics):
        points += 1
    if any(ev.band_distance > 2.0 for ev in event.evidence.values()):
        points += 1
    if event.duration_seconds >= 30 * 60:
        points += 1
    if any(context.near_limit(m, ev.observed) for m, ev in event.evidence.items()):
        points += 1
    # (A steady memory climb is judged by its growth over hours, not one sample's step.)
    if event.kind != "steady climb" and below_floors(event.evidence, context):
        return Severity.LOW
    if points >= 3:
        return Severity.HIGH
    return Severity.MEDIUM if points == 2 else Severity.LOW


def below_floors(evidence: dict[str, MetricEvidence], context: PluginContext | None = None) -> bool:
    """Every metric of ``evidence`` has a floor and moved less than it (an empty one is not)."""
    context = context or _DEFAULT_CONTEXT
    return bool(evidence) and all(context.change_below_floor(m, ev.observed, ev.expected) for m, ev in evidence.items())
