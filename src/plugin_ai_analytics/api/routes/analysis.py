"""The analysis endpoints of the seed: training, forecasts, anomalies, suggestions, summary,
export and batch analysis. Each answers through the service; what is not built yet says so (501).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

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
    raise service.not_built("anomaly detection", 4)


@router.get("/anomalies-history/{plugin_id}", summary="Past anomaly events")
def anomalies_history(plugin_id: PluginId, service: ServiceDep) -> Any:
    raise service.not_built("anomaly history", 4)


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
