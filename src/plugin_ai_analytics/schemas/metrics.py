"""Metric samples going in (the ingest receipt) and coming back out (a history page)."""

from __future__ import annotations

from pydantic import Field
from typing_extensions import TypedDict

from ._base import Record
from .anomalies import DetectionVerdict

__all__ = ["IngestResult", "MetricRow", "MetricsPage"]


class IngestResult(Record):
    plugin_id: str
    received: int = Field(description="samples in the request")
    stored: int = Field(description="new samples written")
    merged: int = Field(
        default=0,
        description="samples whose (plugin, timestamp) was already stored: merged into it (a re-send changes nothing)",
    )
    first: str | None = Field(default=None, description="timestamp of the oldest sample of the batch")
    last: str | None = Field(default=None, description="timestamp of the newest sample of the batch")
    detection: DetectionVerdict | None = Field(
        default=None, description="the anomaly verdict when the batch was scored in the request (small batches)"
    )
    note: str | None = Field(default=None, description="why nothing was stored, when nothing was")
    warnings: list[str] = Field(
        default_factory=list, description="what the operator should know, e.g. samples retention will delete"
    )


class MetricRow(TypedDict, total=False):
    """One sample (raw) or one bucket (downsampled); only the requested metrics are present."""

    timestamp: str
    samples: int
    cpu_percent: float | None
    memory_mb: float | None
    response_time_ms: float | None
    response_time_p95_ms: float | None
    error_rate: float | None
    request_count: int | None
    active_users: int | None


class MetricsPage(Record):
    plugin_id: str
    resolution: str = Field(description="'raw' or the bucket width in seconds, e.g. '300s'")
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str | None
    count: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")
    metrics: list[str]
    samples: list[MetricRow]
