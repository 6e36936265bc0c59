"""Anomaly detection's answers: the verdict on a push, the detector's status, and the events
(incidents) with their evidence, diagnosis and recommended actions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import Record

__all__ = ["AnomalyEvent", "AnomalyHistory", "DetectionResult", "DetectionVerdict", "Evidence"]

Severity = Literal["High", "Medium", "Low"]


class DetectionVerdict(Record):
    """What the detector concluded about a batch scored in the request that brought it."""

    score: float = Field(description="anomaly score of the newest sample, 0..1")
    anomalous: bool = Field(description="any sample of the batch was anomalous")
    alerts: list[str] = Field(description="ids of anomaly events this batch opened")
    open_event: str | None = Field(description="the event the newest sample belongs to, while it is open")
    warming_up: bool
    message: str


class Evidence(Record):
    """One metric's part in an event: what was seen against what was expected."""

    metric: str
    observed: float
    expected: float
    lower: float = Field(description="lower bound of the normal band")
    upper: float = Field(description="upper bound of the normal band")
    score: float
    detector: str = Field(description="which detector saw it")
    direction: str
    band_distance: float | None = Field(default=None, description="how far outside the band, in band half-widths")


class AnomalyEvent(Record):
    event_id: str
    start: str
    end: str | None
    state: Literal["open", "closed", "suppressed"]
    metrics: list[str]
    kind: str
    severity: Severity
    score: float
    explanation: str | None
    evidence: dict[str, Evidence] | None
    moved_together: list[str] | None = Field(description="metrics that moved with it without being anomalous")
    diagnosis: str | None
    pattern: str | None = Field(description="the diagnosed pattern, e.g. suspected_memory_leak")
    recommended_actions: list[str]
    feedback: Literal["false_alarm", "confirmed"] | None
    updated_at: str | None


class DetectionResult(Record):
    plugin_id: str
    status: str = Field(description="normal, anomalous, or warming up (with the samples still needed)")
    samples_seen: int
    scored_now: int = Field(description="samples scored by this call")
    last_sample: str | None
    score: float | None
    metric_scores: dict[str, float]
    alert_threshold: float
    open_anomalies: list[AnomalyEvent]


class AnomalyHistory(Record):
    plugin_id: str
    count: int
    anomalies: list[AnomalyEvent]
    next_offset: int | None
