"""The analysis endpoints of the seed: training, forecasts, anomalies, suggestions, summary,
export and batch analysis. Each answers through the service; what is not built yet says so (501).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ..deps import PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["analysis"])


@router.post(
    "/train-models/{plugin_id}", summary="Train the plugin's forecasting models (background job)", status_code=202
)
def train_models(plugin_id: PluginId, service: ServiceDep) -> Any:
    return JSON(service.train_models(plugin_id), status_code=202)


@router.get("/predict/{plugin_id}", summary="24 h forecasts of every metric with 80%/95% intervals")
def predict(plugin_id: PluginId, service: ServiceDep) -> Any:
    return JSON(service.predict(plugin_id))


@router.get("/forecast-accuracy/{plugin_id}", summary="Tracked accuracy, MASE and coverage of stored predictions")
def forecast_accuracy(plugin_id: PluginId, service: ServiceDep, days: float = 7) -> Any:
    return JSON(service.forecast_accuracy(plugin_id, days))


@router.get("/detect-anomalies/{plugin_id}", summary="Run anomaly detection now")
def detect_anomalies(plugin_id: PluginId, service: ServiceDep) -> Any:
    return JSON(service.detect_anomalies(plugin_id))


@router.get("/anomalies-history/{plugin_id}", summary="Past anomaly events, newest first")
def anomalies_history(
    plugin_id: PluginId,
    service: ServiceDep,
    start: Annotated[str | None, Query(alias="from", description="ISO-8601: events still going on or after")] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO-8601: events that started before")] = None,
    severity: Annotated[str | None, Query(description="High, Medium or Low")] = None,
    state: Annotated[str | None, Query(description="open, closed or suppressed")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    return JSON(
        service.anomalies_history(
            plugin_id, start=start, end=end, severity=severity, state=state, limit=limit, offset=offset
        )
    )


class Feedback(BaseModel):
    label: Literal["false_alarm", "confirmed"]


@router.post("/anomalies/{plugin_id}/{event_id}/feedback", summary="Mark an anomaly a false alarm or confirmed")
def anomaly_feedback(plugin_id: PluginId, event_id: str, feedback: Feedback, service: ServiceDep) -> Any:
    return JSON(service.anomaly_feedback(plugin_id, event_id, feedback.label))


@router.get("/optimization-suggestions/{plugin_id}", summary="Generate optimisation suggestions")
def optimization_suggestions(plugin_id: PluginId, service: ServiceDep) -> Any:
    raise service.not_built("optimisation suggestions", 5)


@router.get("/suggestions-history/{plugin_id}", summary="Past optimisation suggestions")
def suggestions_history(plugin_id: PluginId, service: ServiceDep) -> Any:
    raise service.not_built("suggestion history", 5)


@router.get("/analytics-summary/{plugin_id}", summary="One-page summary of a plugin")
def analytics_summary(plugin_id: PluginId, service: ServiceDep) -> Any:
    raise service.not_built("the analytics summary", 5)


@router.get("/export-data/{plugin_id}", summary="Export a plugin's records (JSON, CSV, Parquet)")
def export_data(plugin_id: PluginId, service: ServiceDep) -> Any:
    raise service.not_built("data export", 5)


@router.post("/batch-analysis", summary="Analyse many plugins at once (background job)")
def batch_analysis(service: ServiceDep) -> Any:
    raise service.not_built("batch analysis", 5)
