"""Optimisation advice: ``optimization-suggestions`` and ``suggestions-history``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...schemas import SuggestionHistory, SuggestionReport
from ..deps import DateTime, Offset, PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["suggestions"], default_response_class=JSON)


@router.get(
    "/optimization-suggestions/{plugin_id}",
    summary="Analyse the plugin's data and suggest optimisations",
    response_model=SuggestionReport,
)
def optimization_suggestions(plugin_id: PluginId, service: ServiceDep) -> JSON:
    return JSON(service.optimization_suggestions(plugin_id))


@router.get(
    "/suggestions-history/{plugin_id}",
    summary="Suggestions on record (kept 90 days), newest first",
    response_model=SuggestionHistory,
)
def suggestions_history(
    plugin_id: PluginId,
    service: ServiceDep,
    start: Annotated[DateTime | None, Query(alias="from", description="ISO-8601: updated on or after")] = None,
    end: Annotated[DateTime | None, Query(alias="to", description="ISO-8601: created before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> JSON:
    return JSON(service.suggestions_history(plugin_id, start=start, end=end, limit=limit, offset=offset))
