"""``batch-analysis``: many plugins at once, as a background job with per-plugin results."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ...schemas import BatchAccepted
from ..deps import ServiceDep
from ..responses import JSON

router = APIRouter(tags=["batch"], default_response_class=JSON)


class BatchRequest(BaseModel):
    plugins: list[str] | None = Field(
        default=None, description="plugin ids; omit for every registered plugin", max_length=100_000
    )
    analyses: list[Literal["train", "forecast", "detect", "suggest"]] | None = Field(
        default=None, description="what to run (default: all; train only trains plugins without models)"
    )
    retrain: bool = Field(default=False, description="retrain plugins that already have models")


@router.post(
    "/batch-analysis",
    summary="Analyse many plugins at once (background job)",
    status_code=202,
    response_model=BatchAccepted,
)
def batch_analysis(body: BatchRequest, request: Request, service: ServiceDep) -> JSON:
    queued = service.batch_analysis(body.plugins, body.analyses, retrain=body.retrain)
    poll = request.app.url_path_for("get_job", job_id=queued.job_id)
    return JSON(BatchAccepted(**queued.model_dump(), status="queued", poll=poll), status_code=202)
