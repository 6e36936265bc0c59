"""Forecasting: ``train-models`` (a background job), ``predict``, ``forecast-accuracy``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ...schemas import ForecastAccuracy, JobAccepted, PluginForecast
from ...times import now_ms, to_ms
from ..deps import PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["forecasting"], default_response_class=JSON)


@router.post(
    "/train-models/{plugin_id}",
    summary="Train the plugin's forecasting models (background job)",
    status_code=202,
    response_model=JobAccepted,
    responses={
        200: {"model": JobAccepted, "description": "a training of this plugin is already queued or running: its job"},
        429: {"description": "the job queue is full (Retry-After says when to try again)"},
    },
)
def train_models(plugin_id: PluginId, request: Request, service: ServiceDep) -> JSON:
    job_id, queued = service.queue_training(plugin_id)
    poll = request.app.url_path_for("get_job", job_id=job_id)
    if queued:
        return JSON(JobAccepted(job_id=job_id, status="queued", poll=poll), status_code=202)
    status = service.get_job(job_id).status
    existing = status if status in ("queued", "running") else "queued"
    return JSON(JobAccepted(job_id=job_id, status=existing, poll=poll, existing=True), status_code=200)


@router.get(
    "/predict/{plugin_id}",
    summary="24 h forecasts of every metric with 80%/95% intervals",
    response_model=PluginForecast,
    responses={409: {"description": "no model yet and no stored forecast: says what to do and what is needed"}},
)
def predict(plugin_id: PluginId, service: ServiceDep) -> JSON:
    forecast = service.predict(plugin_id)
    # Served from cache or from the store, a forecast may be older than this request: say by how much.
    made = to_ms(forecast.made_at)
    age = {"Age": str(max(0, (now_ms() - made) // 1000))} if made is not None else None
    return JSON(forecast, headers=age)


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
