"""The system itself: ``system-status``, jobs, and liveness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ..deps import ServiceDep
from ..responses import JSON

router = APIRouter(tags=["system"])


@router.get("/system-status", summary="Health of the service: database, scheduler, executor, data quality")
async def system_status(service: ServiceDep) -> Any:
    return JSON(await run_in_threadpool(service.system_status))


@router.get("/jobs/{job_id}", summary="A background job's state, progress and result")
def get_job(job_id: str, service: ServiceDep) -> Any:
    return JSON(service.get_job(job_id))


@router.get("/jobs", summary="Recent background jobs")
def list_jobs(service: ServiceDep, status: str | None = None, limit: int = 100) -> Any:
    return JSON({"jobs": service.list_jobs(status=status, limit=limit)})
