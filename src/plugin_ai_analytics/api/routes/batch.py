"""``batch-analysis``: many plugins at once, as a background job with per-plugin results."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..deps import ServiceDep
from ..responses import JSON

router = APIRouter(tags=["batch"])


class BatchRequest(BaseModel):
    plugins: list[str] | None = Field(
        default=None, description="plugin ids; omit for every registered plugin", max_length=100_000
    )
    analyses: list[Literal["train", "forecast", "detect", "suggest"]] | None = Field(
        default=None, description="what to run (default: all; train only trains plugins without models)"
    )
    retrain: bool = Field(default=False, description="retrain plugins that already have models")


@router.post("/batch-analysis", summary="Analyse many plugins at once (background job)", status_code=202)
def batch_analysis(request: BatchRequest, service: ServiceDep) -> Any:
    return JSON(service.batch_analysis(request.plugins, request.analyses, retrain=request.retrain), status_code=202)
