"""Background jobs: the receipt of a queued job, and its state when polled."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import Record

__all__ = ["BatchAccepted", "BatchQueued", "Job", "JobAccepted", "JobList"]


class Job(Record):
    job_id: str
    kind: str
    plugin_id: str | None
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float = Field(description="0..1")
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    result: dict[str, Any] | None
    error: str | None


class JobList(Record):
    jobs: list[Job]


class JobAccepted(Record):
    job_id: str
    status: Literal["queued", "running"]
    poll: str = Field(description="path of the job to poll")
    existing: bool = Field(
        default=False, description="the same job (kind and plugin) was already queued or running: this is its id"
    )


class BatchAccepted(JobAccepted):
    plugins: int
    analyses: list[str]


class BatchQueued(Record):
    """What the service hands back when it queued a batch; the API adds where to poll it."""

    job_id: str
    plugins: int
    analyses: list[str]
