"""Access: the dashboard's login and logout (a session cookie, HttpOnly and SameSite=Strict, with
a CSRF cookie the page echoes), who the caller is, and the audit log for admins."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ...errors import Unauthorized
from ...times import ms_to_iso, to_ms
from ..auth import CSRF_COOKIE, SESSION_COOKIE, CurrentIdentity, Guard
from ..deps import MAX_RECORD_ID, DateTime, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["access"], default_response_class=JSON)


class Login(BaseModel):
    token: str = Field(min_length=1, max_length=8192, description="an API token or an OIDC JWT")


class WhoAmI(BaseModel):
    actor: str
    role: str
    plugins: list[str] | None = Field(description="plugin id patterns this identity is limited to; null: all")
    via: str


class AuditEntry(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    plugin_id: str | None
    outcome: str
    details: dict[str, Any] | None
    entry_hash: str | None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_before_id: int | None = Field(description="pass as before_id for older entries")


def _who(identity: Any) -> WhoAmI:
    plugins = list(identity.plugins) if identity.plugins is not None else None
    return WhoAmI(actor=identity.actor, role=identity.role, plugins=plugins, via=identity.via)


@router.post("/auth/login", summary="Log in with a token (sets the session cookie)", response_model=WhoAmI)
def login(body: Login, request: Request) -> JSON:
    guard: Guard = request.app.state.guard
    client = request.client.host if request.client else "?"
    guard.check_rate(client)
    identity = guard.identify(body.token)
    if identity is None:
        guard.failed(client)
        raise Unauthorized("the token is unknown, expired or revoked")
    request.state.identity = identity
    response = JSON(_who(identity))
    common = {"samesite": "strict", "secure": guard.secure_cookies, "path": "/"}
    response.set_cookie(SESSION_COOKIE, body.token, httponly=True, **common)
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, **common)
    return response


@router.post("/auth/logout", summary="Log out: the session cookie is cleared", status_code=204)
def logout(identity: CurrentIdentity, request: Request) -> Response:
    guard: Guard = request.app.state.guard
    response = Response(status_code=204)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="strict", secure=guard.secure_cookies)
    return response


@router.get("/auth/me", summary="Who the caller is: role and plugin scope", response_model=WhoAmI)
def me(identity: CurrentIdentity) -> JSON:
    return JSON(_who(identity))


@router.get("/audit", summary="The audit log, newest first (admins)", response_model=AuditPage)
async def audit(
    service: ServiceDep,
    actor: Annotated[str | None, Query(max_length=256)] = None,
    action: Annotated[str | None, Query(max_length=256)] = None,
    plugin_id: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Annotated[str | None, Query(max_length=256, description="ok, denied or failed <status>")] = None,
    start: Annotated[DateTime | None, Query(alias="from", description="ISO-8601: entries at or after")] = None,
    end: Annotated[DateTime | None, Query(alias="to", description="ISO-8601: entries before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_RECORD_ID)] = None,
) -> JSON:
    rows = await run_in_threadpool(
        service.audit.query,
        actor=actor,
        action=action,
        plugin_id=plugin_id,
        outcome=outcome,
        since_ms=to_ms(start),
        until_ms=to_ms(end),
        limit=limit,
        before_id=before_id,
    )
    entries = [
        AuditEntry(**{k: r[k] for k in AuditEntry.model_fields if k != "at"}, at=ms_to_iso(r["at"]) or "") for r in rows
    ]
    return JSON(AuditPage(entries=entries, next_before_id=rows[-1]["id"] if len(rows) == limit else None))
