"""Ingestion and the plugin registry: ``collect-metrics`` and ``plugins``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ...collect.registry import PluginChanges, PluginReplacement, PluginSpec
from ...collect.validate import BATCH_SCHEMA
from ...errors import Forbidden
from ...schemas import IngestResult, Plugin, PluginList
from ..auth import CurrentIdentity
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
def list_plugins(service: ServiceDep, identity: CurrentIdentity) -> JSON:
    return JSON(PluginList(plugins=[p for p in service.list_plugins() if identity.sees(p.plugin_id)]))


@router.post(
    "/plugins",
    summary="Register a new plugin and its metric source (409 if the id is already known)",
    status_code=201,
    response_model=Plugin,
)
def register_plugin(spec: PluginSpec, service: ServiceDep) -> JSON:
    return JSON(service.create_plugin(spec), status_code=201)


@router.get("/plugins/{plugin_id}", summary="One plugin's registration and data extent", response_model=Plugin)
def get_plugin(
    plugin_id: PluginId,
    service: ServiceDep,
    identity: CurrentIdentity,
    reveal: Annotated[bool, Query(description="show the source's credentials decrypted (admins; audited)")] = False,
) -> JSON:
    if reveal:
        if identity.role != "admin":
            raise Forbidden("only an admin may reveal a source's credentials")
        service.audit.record(identity.actor, "reveal_source_credentials", plugin_id=plugin_id)
    return JSON(service.get_plugin(plugin_id, reveal=reveal))


@router.put(
    "/plugins/{plugin_id}",
    summary="Replace a plugin's whole registration (fields left out take their defaults); 201 if it is new",
    response_model=Plugin,
    responses={201: {"model": Plugin, "description": "registered: the plugin was new"}},
)
def replace_plugin(plugin_id: PluginId, spec: PluginReplacement, service: ServiceDep) -> JSON:
    plugin, created = service.replace_plugin(plugin_id, spec)
    return JSON(plugin, status_code=201 if created else 200)


@router.patch(
    "/plugins/{plugin_id}",
    summary="Change some fields of a plugin's registration; the others stay as they are",
    response_model=Plugin,
)
def update_plugin(plugin_id: PluginId, changes: PluginChanges, service: ServiceDep) -> JSON:
    return JSON(service.update_plugin(plugin_id, changes))


@router.delete("/plugins/{plugin_id}", summary="Remove a plugin and all its data", status_code=204)
def delete_plugin(plugin_id: PluginId, service: ServiceDep) -> None:
    service.delete_plugin(plugin_id)
