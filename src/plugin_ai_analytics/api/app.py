"""The FastAPI application: routers under ``/api/plugin-ai-analytics``, Prometheus ``/metrics``,
and the service's life cycle tied to the app's."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .._version import __version__
from ..config import Settings, get_settings
from ..logs import log_event
from ..service import AnalyticsService
from ..web import routes as web_routes
from .auth import Guard, authorize, route_template
from .contract import install_contract
from .errors import install_error_handlers
from .faults import Faults, InFlightLimit
from .hygiene import Hygiene
from .limits import BodyLimit
from .probes import PROBE_PATHS, install_probes
from .prometheus import ServiceSeries
from .responses import JSON
from .routes import (
    access,
    alerts,
    anomalies,
    batch,
    collect,
    dashboard,
    export,
    forecasts,
    metrics,
    suggestions,
    summary,
    system,
)

__all__ = ["create_app", "API_PREFIX"]

API_PREFIX = "/api/plugin-ai-analytics"


def create_app(service: AnalyticsService | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the app. With ``service`` given the caller owns its life cycle (tests, embedding)."""
    owned = service is None
    settings = settings or (service.settings if service is not None else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            app.state.service = AnalyticsService(settings)
            app.state.service.start()
            app.state.guard = Guard(app.state.service, settings)
        if settings.insecure:
            log_event(logging.WARNING, "start", "authentication is OFF (--insecure): every caller is an admin")
        try:
            yield
        finally:
            app.state.readiness.close()
            if owned:
                app.state.service.close()

    app = FastAPI(
        title="plugin-ai-analytics",
        version=__version__,
        description="Metrics, 24 h forecasts, anomaly detection and optimisation advice for platform plugins.",
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI and ReDoc from a CDN; /docs is served from the
        # vendored copy instead (web/routes.py), and ReDoc, one more bundle to vendor, is left out.
        docs_url=None,
        redoc_url=None,
        # served below behind the token check, like every route but the liveness probe and the
        # dashboard's page and files (/docs is such a page: it fetches the schema with the login)
        openapi_url=None,
    )
    if service is not None:
        app.state.service = service
        app.state.guard = Guard(service, settings)
    install_error_handlers(app, unavailable_retry_after=settings.retry_after_seconds)
    install_probes(app, settings)
    install_contract(app)
    # innermost: a refused body is still measured, audited and given the security headers
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Every route is authorised by one dependency applying the route × role table (security/policy.py).
    guarded = [Depends(authorize)]
    routers = (
        collect,
        metrics,
        forecasts,
        anomalies,
        suggestions,
        summary,
        export,
        batch,
        system,
        dashboard,
        access,
        alerts,
    )
    for module in routers:
        app.include_router(module.router, prefix=API_PREFIX, dependencies=guarded)
    app.include_router(web_routes.router, dependencies=guarded)
    _install_self_metrics(app, guarded)

    @app.get("/openapi.json", include_in_schema=False, dependencies=guarded)
    def openapi_schema() -> JSON:
        return JSON(app.openapi())

    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # CORS is off unless an allow-list is configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
        )
    # Inside the hygiene layer, so an error answer gets the security headers and its audit entry.
    app.add_middleware(Faults, retry_after=settings.retry_after_seconds)
    app.add_middleware(
        Hygiene,
        api_prefix=API_PREFIX,
        allowed_hosts=settings.allowed_hosts.split(","),
        hsts=settings.tls_cert is not None,
        after=lambda scope, status: _audit(app, scope, status),
    )
    # Outermost: a request over the limit costs nothing but this answer.
    app.add_middleware(
        InFlightLimit,
        limit=settings.max_inflight_requests,
        retry_after=settings.retry_after_seconds,
        exempt=PROBE_PATHS,
    )
    return app


async def _audit(app: FastAPI, scope: Any, status: int) -> None:
    """Write the audit entry of a call its rule audits (state-changing calls, analysis runs)."""
    state = scope.get("state") or {}
    rule = state.get("rule")
    if rule is None or rule.audit is None:
        return
    identity = state.get("identity")
    route = scope.get("route")
    outcome = "ok" if status < 400 else "denied" if status in (401, 403, 429) else f"failed {status}"
    details = {"method": scope["method"], "route": route_template(scope), "status": status}
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        details["query"] = query[:300]
    try:
        await run_in_threadpool(
            app.state.service.audit.record,
            identity.actor if identity is not None else "unauthenticated",
            getattr(route, "name", None) or scope["path"],
            plugin_id=(scope.get("path_params") or {}).get("plugin_id"),
            outcome=outcome,
            details=details,
        )
    except Exception as exc:
        # The answer is already decided (typically a 503: the audit log shares the database that
        # just failed); raising now would cut the connection instead of delivering it.
        log_event(logging.ERROR, "audit", f"audit entry not written ({details}): {exc!r}")


def _install_self_metrics(app: FastAPI, guarded: list[Any]) -> None:
    # A registry per app keeps several apps in one process (tests) from clashing.
    # Standard names, so any Prometheus tooling (and our own scrape source) understands them.
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(ServiceSeries(app))  # per-plugin forecasts, anomaly scores, accuracy, alerting
    latency = Histogram(
        "http_request_duration_seconds",
        "API latency by route",
        ["method", "route", "status"],
        registry=registry,
        buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    requests = Counter(
        "http_requests_total",
        "API requests by route",
        ["method", "route", "status"],
        registry=registry,
    )

    @app.middleware("http")
    async def _measure(request: Request, call_next: Any) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        # Included routers keep their own relative path; label with the full template.
        if request.url.path.startswith(API_PREFIX) and not path.startswith(API_PREFIX):
            path = API_PREFIX + path
        labels = (request.method, path, str(response.status_code))
        latency.labels(*labels).observe(time.perf_counter() - start)
        requests.labels(*labels).inc()
        return response

    @app.get("/metrics", include_in_schema=False, dependencies=guarded)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
