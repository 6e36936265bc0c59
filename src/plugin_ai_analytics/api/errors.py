"""The one place where errors become HTTP responses: ``AnalyticsError`` subclasses carry their
status code; FastAPI's own request validation errors are reshaped to name the field the same way.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from ..errors import AnalyticsError
from .responses import JSON

__all__ = ["install_error_handlers"]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AnalyticsError)
    async def _analytics_error(_request: Request, exc: AnalyticsError) -> JSON:
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSON(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError) -> JSON:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        field = ".".join(loc) or "request"
        return JSON(
            {"error": "validation_error", "message": f"{field}: {err.get('msg')}", "field": field},
            status_code=422,
        )
