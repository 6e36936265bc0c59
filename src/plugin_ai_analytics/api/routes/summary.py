"""The one-page ``analytics-summary`` of a plugin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ..deps import PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["summary"])


@router.get("/analytics-summary/{plugin_id}", summary="Current state, trends, forecasts, anomalies, advice, quality")
async def analytics_summary(plugin_id: PluginId, service: ServiceDep) -> Any:
    return JSON(await run_in_threadpool(service.analytics_summary, plugin_id))
