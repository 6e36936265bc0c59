"""The one-page ``analytics-summary`` of a plugin."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ...schemas import AnalyticsSummary
from ..deps import PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["summary"], default_response_class=JSON)


@router.get(
    "/analytics-summary/{plugin_id}",
    summary="Current state, trends, forecasts, anomalies, advice, quality",
    response_model=AnalyticsSummary,
)
async def analytics_summary(plugin_id: PluginId, service: ServiceDep) -> JSON:
    return JSON(await run_in_threadpool(service.analytics_summary, plugin_id))
