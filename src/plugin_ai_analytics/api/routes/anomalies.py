"""Anomaly detection: ``detect-anomalies``, ``anomalies-history``, operator feedback."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from ...schemas import AnomalyEvent, AnomalyHistory, DetectionResult
from ..deps import DateTime, Offset, PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["anomalies"], default_response_class=JSON)


@router.get("/detect-anomalies/{plugin_id}", summary="Run anomaly detection now", response_model=DetectionResult)
def detect_anomalies(plugin_id: PluginId, service: ServiceDep) -> JSON:
    return JSON(service.detect_anomalies(plugin_id))


@router.get(
    "/anomalies-history/{plugin_id}", summary="Past anomaly events, newest first", response_model=AnomalyHistory
)
def anomalies_history(
    plugin_id: PluginId,
    service: ServiceDep,
    start: Annotated[
        DateTime | None, Query(alias="from", description="ISO-8601: events still going on or after")
    ] = None,
    end: Annotated[DateTime | None, Query(alias="to", description="ISO-8601: events that started before")] = None,
    severity: Annotated[Literal["High", "Medium", "Low"] | None, Query()] = None,
    state: Annotated[Literal["open", "closed", "suppressed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> JSON:
    return JSON(
        service.anomalies_history(
            plugin_id, start=start, end=end, severity=severity, state=state, limit=limit, offset=offset
        )
    )


class Feedback(BaseModel):
    label: Literal["false_alarm", "confirmed"]


@router.post(
    "/anomalies/{plugin_id}/{event_id}/feedback",
    summary="Mark an anomaly a false alarm or confirmed",
    response_model=AnomalyEvent,
)
def anomaly_feedback(
    plugin_id: PluginId, event_id: Annotated[str, Path(max_length=128)], feedback: Feedback, service: ServiceDep
) -> JSON:
    return JSON(service.anomaly_feedback(plugin_id, event_id, feedback.label))
