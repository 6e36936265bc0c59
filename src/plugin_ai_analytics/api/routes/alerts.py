"""Alerting: ``alerts`` (firing, silenced, inhibited, resolved), the delivery log
(``alerts/deliveries``), silences, and the configuration (``alerting/config``, contact points,
policies). Secrets are write-only: no answer carries one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from ...alerting import AlertingConfigInput, ContactPointFields, PoliciesInput, SilenceSpec
from ...schemas import (
    AlertingConfigView,
    AlertList,
    ContactPointList,
    ContactPointView,
    Delivery,
    DeliveryList,
    PolicyList,
    Silence,
    SilenceList,
)
from ..deps import MAX_RECORD_ID, Offset, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["alerting"], default_response_class=JSON)

Name = Annotated[
    str, Path(description="letters, digits and . _ : - (1-64)", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
]


@router.get("/alerts", summary="Alerts, newest change first, with whether each is notified", response_model=AlertList)
async def alerts(
    service: ServiceDep,
    state: Annotated[Literal["firing", "resolved"] | None, Query()] = None,
    plugin_id: Annotated[str | None, Query(max_length=128)] = None,
    severity: Annotated[Literal["High", "Medium", "Low"] | None, Query()] = None,
    rule: Annotated[str | None, Query(max_length=64, description="e.g. anomaly, forecast_crosses_limit")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> JSON:
    query = {
        "state": state,
        "plugin_id": plugin_id,
        "severity": severity,
        "rule": rule,
        "limit": limit,
        "offset": offset,
    }
    return JSON(await run_in_threadpool(lambda: service.alerts(**query)))


@router.get(
    "/alerts/deliveries",
    summary="The delivery log: every notification, its attempts and the receivers' answers",
    response_model=DeliveryList,
)
async def deliveries(
    service: ServiceDep,
    state: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    contact_point: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_RECORD_ID, description="the next page: next_before_id of this one")
    ] = None,
) -> JSON:
    query = {"state": state, "contact_point": contact_point, "limit": limit, "before_id": before_id}
    return JSON(await run_in_threadpool(lambda: service.alert_deliveries(**query)))


@router.post(
    "/alerts/deliveries/{delivery_id}/retry",
    summary="Send a dead notification again (same idempotency key)",
    response_model=Delivery,
)
def retry_delivery(delivery_id: Annotated[int, Path(ge=1, le=MAX_RECORD_ID)], service: ServiceDep) -> JSON:
    return JSON(service.retry_alert_delivery(delivery_id))


@router.get("/alerts/silences", summary="Silences (active, pending and recently expired)", response_model=SilenceList)
def silences(service: ServiceDep, include_expired: bool = True) -> JSON:
    return JSON(service.alert_silences(include_expired=include_expired))


@router.post(
    "/alerts/silences", summary="Silence alerts matching labels until it ends", response_model=Silence, status_code=201
)
def create_silence(spec: SilenceSpec, service: ServiceDep) -> JSON:
    body = spec.model_dump(mode="json", exclude_unset=True)
    return JSON(service.create_alert_silence(body), status_code=201)


@router.delete("/alerts/silences/{silence_id}", summary="End a silence now", response_model=Silence)
def expire_silence(silence_id: Annotated[str, Path(max_length=64)], service: ServiceDep) -> JSON:
    return JSON(service.expire_alert_silence(silence_id))


@router.get(
    "/alerting/config", summary="The alerting configuration (secrets left out)", response_model=AlertingConfigView
)
def get_config(service: ServiceDep) -> JSON:
    return JSON(service.alerting_config())


@router.put(
    "/alerting/config",
    summary="Replace the whole alerting configuration (contact points, policies, inhibition, maintenance)",
    response_model=AlertingConfigView,
)
def put_config(config: AlertingConfigInput, service: ServiceDep) -> JSON:
    return JSON(service.replace_alerting_config(config.document()))


@router.get("/alerting/contact-points", summary="Contact points (secrets left out)", response_model=ContactPointList)
def contact_points(service: ServiceDep) -> JSON:
    return JSON(ContactPointList(contact_points=service.alerting_config().contact_points))


@router.put(
    "/alerting/contact-points/{name}",
    summary="Create or replace a contact point; a secret left out keeps the stored one",
    response_model=ContactPointView,
    responses={201: {"model": ContactPointView, "description": "created"}},
)
def put_contact_point(name: Name, point: ContactPointFields, service: ServiceDep) -> JSON:
    view, created = service.put_contact_point(name, point.model_dump(mode="json", exclude_unset=True))
    return JSON(view, status_code=201 if created else 200)


@router.delete("/alerting/contact-points/{name}", summary="Delete a contact point no policy uses", status_code=204)
def delete_contact_point(name: Name, service: ServiceDep) -> Response:
    service.delete_contact_point(name)
    return Response(status_code=204)


@router.get(
    "/alerting/policies", summary="Notification policies, in the order they are tried", response_model=PolicyList
)
def policies(service: ServiceDep) -> JSON:
    return JSON(PolicyList(policies=service.alerting_config().policies))


@router.put(
    "/alerting/policies",
    summary="Replace the notification policies (the first that matches wins)",
    response_model=PolicyList,
)
def put_policies(body: PoliciesInput, service: ServiceDep) -> JSON:
    policies: list[dict[str, Any]] = [
        p.model_dump(mode="json", by_alias=True, exclude_unset=True) for p in body.policies
    ]
    return JSON(PolicyList(policies=service.put_alert_policies(policies)))
