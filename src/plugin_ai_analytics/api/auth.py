"""Authentication and authorisation of every request, as one FastAPI dependency (``authorize``)
that every router is included with: it finds the route's rule in ``security.policy.ROUTES``,
reads the caller's identity (``Authorization: Bearer`` API token or OIDC JWT, or the dashboard's
session cookie with its CSRF header), and refuses what the role or the token's plugin scope does
not allow. Failed authentication is rate-limited per client address.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from ..config import Settings
from ..errors import AnalyticsError, Forbidden, Unauthorized
from ..logs import log_event
from ..security.oidc import OIDCVerifier
from ..security.policy import API, Rule, allowed, rule_for
from ..security.roles import Identity, Permission
from ..service import AnalyticsService

__all__ = ["Guard", "authorize", "route_template", "CurrentIdentity", "SESSION_COOKIE", "CSRF_COOKIE", "CSRF_HEADER"]

SESSION_COOKIE = "paa_session"
CSRF_COOKIE = "paa_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ANONYMOUS = Identity(actor="anonymous", role="none", via="none")

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="BearerToken",
    description="An API token (plugin-ai-analytics tokens create) or an OIDC JWT: Authorization: Bearer <token>",
)
_session = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="SessionCookie",
    description="The dashboard's login (POST /auth/login); state-changing calls also need the X-CSRF-Token header",
)


class TooManyFailures(AnalyticsError):
    """Raised when a client has failed authentication too often in the last minute."""

    status_code = 429
    code = "too_many_failures"


class Guard:
    """What authorising a request needs beyond the service: the settings, the OIDC verifier,
    and the memory of recent authentication failures per client address."""

    def __init__(self, service: AnalyticsService, settings: Settings) -> None:
        self.service = service
        self.insecure = settings.insecure
        self.secure_cookies = settings.tls_cert is not None
        self.limit = settings.auth_failures_per_minute
        self.oidc = (
            OIDCVerifier(
                settings.oidc_jwks,
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience,
                role_claim=settings.oidc_role_claim,
            )
            if settings.oidc_jwks
            else None
        )
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def identify(self, token: str) -> Identity | None:
        if self.oidc is not None and token.count(".") == 2:
            return self.oidc.verify(token)
        return self.service.tokens.verify(token)

    def check_rate(self, client: str) -> None:
        with self._lock:
            failures = self._failures.get(client)
            now = time.monotonic()
            while failures and now - failures[0] > 60:
                failures.popleft()
            if failures is not None and len(failures) >= self.limit:
                raise TooManyFailures(
                    "too many failed authentications from this address; try again in a minute", retry_after=60
                )

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()  # bounded memory under a flood from many addresses
            self._failures.setdefault(client, deque()).append(time.monotonic())
        log_event(logging.WARNING, "auth", "authentication failed", client=client)


def route_template(scope: dict) -> str:
    """The full path template of the matched route (an included router keeps its relative one)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", "") or ""
    if scope["path"].startswith(API) and not template.startswith(API):
        template = API + template
    return template


def route_rule(request: Request) -> Rule:
    return rule_for(request.method, route_template(request.scope))


async def authorize(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_session)],
) -> Identity:
    """The caller's identity, if the route's rule lets it through; else 401, 403 or 429."""
    guard: Guard = request.app.state.guard
    rule = route_rule(request)
    request.state.rule = rule
    token = bearer.credentials if bearer is not None else session
    if token and not guard.insecure and not guard.service.tokens.answered_from_memory(token):
        # A token not seen lately is looked up in the database (or an OIDC key set): on a worker
        # thread, so a slow or stalled database holds that request only, never the event loop.
        identity = await run_in_threadpool(_identity, request, guard, bearer, session, rule)
    else:
        identity = _identity(request, guard, bearer, session, rule)
    request.state.identity = identity
    if not allowed(identity, rule):
        raise Forbidden(
            f"{identity.role} may not {request.method} {request.url.path}"
            + (" (this token is scoped to some plugins)" if identity.scoped and identity.can(rule.permission) else ""),
        )
    plugin_id = request.path_params.get("plugin_id")
    if rule.scope == "plugin" and plugin_id is not None and not identity.sees(plugin_id):
        raise Forbidden(f"this token is not for plugin {plugin_id!r}")
    return identity


def _identity(
    request: Request,
    guard: Guard,
    bearer: HTTPAuthorizationCredentials | None,
    session: str | None,
    rule: Rule,
) -> Identity:
    if guard.insecure:
        return Identity(actor="insecure", role="admin", via="insecure")
    token = bearer.credentials if bearer is not None else session
    if rule.permission is Permission.PUBLIC:
        # A public route (the page, the login) never fails on a stale cookie.
        return (guard.identify(token) if token else None) or ANONYMOUS
    if not token:
        raise Unauthorized("this call needs a token: Authorization: Bearer <token>")
    client = request.client.host if request.client else "?"
    guard.check_rate(client)
    identity = guard.identify(token)
    if identity is None:
        guard.failed(client)
        raise Unauthorized("the token is unknown, expired or revoked")
    if bearer is None and request.method not in _SAFE_METHODS:
        # A cookie is sent by the browser on its own; a state-changing call must also prove it
        # comes from the dashboard's page by echoing the CSRF cookie in a header.
        expected = request.cookies.get(CSRF_COOKIE)
        if not expected or request.headers.get(CSRF_HEADER) != expected:
            raise Forbidden("missing or wrong X-CSRF-Token header for a call authenticated by the session cookie")
    return identity


CurrentIdentity = Annotated[Identity, Depends(authorize)]
