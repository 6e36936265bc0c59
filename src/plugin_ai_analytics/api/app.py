"""The FastAPI application: routers under ``/api/plugin-ai-analytics``, Prometheus ``/metrics``,
and the service's life cycle tied to the app's."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .._version import __version__
from ..config import Settings
from ..service import AnalyticsService
from ..web import routes as web_routes
from .errors import install_error_handlers
from .prometheus import ServiceSeries
from .routes import anomalies, batch, collect, dashboard, export, forecasts, metrics, suggestions, summary, system
from .routes.alerts import router as alerts_router

__all__ = ["create_app", "API_PREFIX"]

API_PREFIX = "/api/plugin-ai-analytics"


def create_app(service: AnalyticsService | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the app. With ``service`` given the caller owns its life cycle (tests, embedding)."""
    owned = service is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            app.state.service = AnalyticsService(settings)
            app.state.service.start()
        try:
            yield
        finally:
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
    )
    if service is not None:
        app.state.service = service
    install_error_handlers(app)
    for module in (collect, metrics, forecasts, anomalies, suggestions, summary, export, batch, system, dashboard):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(alerts_router, prefix=API_PREFIX)
    app.include_router(web_routes.router)
    _install_self_metrics(app)
    return app


def _install_self_metrics(app: FastAPI) -> None:
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

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}
