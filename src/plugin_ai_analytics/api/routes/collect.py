"""Ingestion and the plugin registry: ``collect-metrics`` and ``plugins``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from ...collect.registry import PluginSpec
from ...collect.validate import BATCH_SCHEMA
from ...errors import ValidationError
from ...schemas import IngestResult, Plugin, PluginList
from ..deps import PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["collection"], default_response_class=JSON)

_BATCH_SCHEMA = {
    "requestBody": {
        "required": False,
        "description": (
            'A batch of up to 10,000 samples, {"samples": [...]} or a bare list. '
            "Leave the body empty to collect once from the plugin's registered source."
        ),
        "content": {"application/json": {"schema": BATCH_SCHEMA}},
    }
}


@router.post(
    "/collect-metrics/{plugin_id}",
    openapi_extra=_BATCH_SCHEMA,
    summary="Ingest a batch of samples, or collect once from the plugin's source",
    response_model=IngestResult,
)
async def collect_metrics(plugin_id: PluginId, request: Request, service: ServiceDep) -> JSON:
    # The raw body goes straight to the validator: parsing it once, in pydantic-core, is what
    # makes 10,000-sample batches cheap.
    body = await request.body()
    return JSON(await run_in_threadpool(service.collect_metrics, plugin_id, body))


@router.get("/plugins", summary="All registered plugins", response_model=PluginList)
def list_plugins(service: ServiceDep) -> JSON:
    return JSON(PluginList(plugins=service.list_plugins()))


@router.post(
    "/plugins", summary="Register (or replace) a plugin and its metric source", status_code=201, response_model=Plugin
)
def register_plugin(spec: PluginSpec, service: ServiceDep) -> JSON:
    return JSON(service.register_plugin(spec.model_dump(mode="json")), status_code=201)


@router.get("/plugins/{plugin_id}", summary="One plugin's registration and data extent", response_model=Plugin)
def get_plugin(plugin_id: PluginId, service: ServiceDep) -> JSON:
    return JSON(service.get_plugin(plugin_id))


@router.put("/plugins/{plugin_id}", summary="Replace a plugin's registration", response_model=Plugin)
def replace_plugin(plugin_id: PluginId, spec: PluginSpec, service: ServiceDep) -> JSON:
    if spec.plugin_id != plugin_id:
        raise ValidationError("plugin_id in the body must match the URL", field="plugin_id")
    return JSON(service.register_plugin(spec.model_dump(mode="json")))


@router.delete("/plugins/{plugin_id}", summary="Remove a plugin and all its data", status_code=204)
def delete_plugin(plugin_id: PluginId, service: ServiceDep) -> None:
    service.delete_plugin(plugin_id)
