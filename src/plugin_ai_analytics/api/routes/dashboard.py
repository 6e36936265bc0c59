"""Aggregates the dashboard needs beyond the SPEC's endpoints: the overview of every plugin's
health in one request, and one plugin's health, models and accuracy per day."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ...schemas import PluginHealth, PluginsOverview
from ..auth import CurrentIdentity
from ..deps import PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["dashboard"], default_response_class=JSON)


@router.get(
    "/dashboard/overview",
    summary="Every plugin's health: open anomalies, 24 h forecast risk, model accuracy, freshness",
    response_model=PluginsOverview,
)
async def overview(service: ServiceDep, identity: CurrentIdentity) -> JSON:
    answer = await run_in_threadpool(service.plugins_overview)
    if identity.scoped:  # a token for some plugins sees only those
        rows = [row for row in answer.plugins if identity.sees(row.plugin_id)]
        counts = {health: sum(1 for r in rows if r.health == health) for health in answer.health_counts}
        answer = answer.model_copy(update={"plugins": rows, "health_counts": counts})
    return JSON(answer)


@router.get(
    "/dashboard/plugins/{plugin_id}",
    summary="One plugin's health, models and tracked accuracy per day",
    response_model=PluginHealth,
)
async def plugin_health(plugin_id: PluginId, service: ServiceDep) -> JSON:
    return JSON(await run_in_threadpool(service.plugin_overview, plugin_id))
