"""Forecasting: ``train-models`` (a background job), ``predict``, ``forecast-accuracy``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["forecasting"])


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
