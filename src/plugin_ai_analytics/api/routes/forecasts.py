"""Forecasting: ``train-models`` (a background job), ``predict``, ``forecast-accuracy``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ...schemas import ForecastAccuracy, JobAccepted, PluginForecast
from ..deps import PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["forecasting"], default_response_class=JSON)


@router.post(
    "/train-models/{plugin_id}",
    summary="Train the plugin's forecasting models (background job)",
    status_code=202,
    response_model=JobAccepted,
)
def train_models(plugin_id: PluginId, request: Request, service: ServiceDep) -> JSON:
    job_id = service.train_models(plugin_id)
    poll = request.app.url_path_for("get_job", job_id=job_id)
    return JSON(JobAccepted(job_id=job_id, status="queued", poll=poll), status_code=202)


@router.get(
    "/predict/{plugin_id}",
    summary="24 h forecasts of every metric with 80%/95% intervals",
    response_model=PluginForecast,
)
def predict(plugin_id: PluginId, service: ServiceDep) -> JSON:
    return JSON(service.predict(plugin_id))


@router.get(
    "/forecast-accuracy/{plugin_id}",
    summary="Tracked accuracy, MASE and coverage of stored predictions",
    response_model=ForecastAccuracy,
)
def forecast_accuracy(
    plugin_id: PluginId,
    service: ServiceDep,
    days: Annotated[
        float, Query(gt=0, le=366, allow_inf_nan=False, description="the window of tracked predictions, in days")
    ] = 7,
) -> JSON:
    return JSON(service.forecast_accuracy(plugin_id, days))
