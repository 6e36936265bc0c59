"""The system itself: ``system-status`` and jobs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from ...errors import Forbidden
from ...schemas import Job, JobList, SystemStatus
from ..auth import CurrentIdentity
from ..deps import ServiceDep
from ..responses import JSON

router = APIRouter(tags=["system"], default_response_class=JSON)


@router.get(
    "/system-status",
    summary="Health of the service: database, scheduler, executor, data quality",
    response_model=SystemStatus,
)
async def system_status(service: ServiceDep) -> JSON:
    return JSON(await run_in_threadpool(service.system_status))


@router.get("/jobs/{job_id}", summary="A background job's state, progress and result", response_model=Job)
def get_job(job_id: Annotated[str, Path(max_length=64)], service: ServiceDep, identity: CurrentIdentity) -> JSON:
    job = service.get_job(job_id)
    if identity.scoped and (job.plugin_id is None or not identity.sees(job.plugin_id)):
        raise Forbidden("this token is not for the plugin of that job")
    return JSON(job)


@router.get("/jobs", summary="Recent background jobs", response_model=JobList)
def list_jobs(
    service: ServiceDep,
    status: Annotated[Literal["queued", "running", "succeeded", "failed", "cancelled"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSON:
    return JSON(JobList(jobs=service.list_jobs(status=status, limit=limit)))
