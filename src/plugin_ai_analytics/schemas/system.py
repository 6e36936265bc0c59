"""The health of the service itself."""

from __future__ import annotations

from pydantic import Field

from ._base import Record

__all__ = ["SystemStatus"]


class DatabaseStatus(Record):
    ok: bool
    dialect: str
    latency_ms: float | None = None
    error: str | None = None


class ProcessStatus(Record):
    pid: int
    cpu_percent: float
    memory_mb: float
    threads: int


class SchedulerStatus(Record):
    running: bool
    tasks: int
    task_failures: int
    failing: list[str]


class ExecutorStatus(Record):
    kind: str
    workers: int
    queue_depth: int
    jobs: dict[str, int] | None = Field(description="jobs on record per status")


class PluginCounts(Record):
    registered: int
    with_source: int


class ModelsStatus(Record):
    active: int
    plugins_with_models: int
    last_training: str | None
    training_jobs_running: int


class DetectionStatus(Record):
    detectors_in_memory: int
    open_anomalies: dict[str, int]
    scoring_p50_ms: float | None
    scoring_p99_ms: float | None


class DataQualityStatus(Record):
    stale_plugins: list[str]
    rejected_batches_24h: int
    plugins_with_rejections_24h: list[str]


class RetentionStatus(Record):
    last_run: str = Field(description="when the newest retention run finished")
    deleted: dict[str, int] = Field(description="rows deleted per table by that run")
    took_ms: int


class SystemStatus(Record):
    ok: bool
    version: str
    uptime_s: float
    database: DatabaseStatus
    process: ProcessStatus
    scheduler: SchedulerStatus
    executor: ExecutorStatus
    plugins: PluginCounts | None = None
    models: ModelsStatus | None = None
    anomaly_detection: DetectionStatus | None = None
    data_quality: DataQualityStatus | None = None
    retention: RetentionStatus | None = Field(default=None, description="the newest retention run (from the audit log)")
