"""The one place where errors become HTTP responses: ``AnalyticsError`` subclasses carry their
status code (and ``retry_after``, sent as the Retry-After header); FastAPI's own request
validation errors are reshaped to name the field the same way; every other exception is a JSON
503 (database unavailable) or 500 with a request id (``api/faults.py``), never plain text.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from ..errors import AnalyticsError
from .faults import error_body, status_for
from .responses import JSON

__all__ = ["install_error_handlers"]


def install_error_handlers(app: FastAPI, *, unavailable_retry_after: int = 5) -> None:
    @app.exception_handler(AnalyticsError)
    async def _analytics_error(_request: Request, exc: AnalyticsError) -> JSON:
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSON(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSON:
        # The last resort (Starlette's outermost layer): what escaped even ``Faults``, e.g. a
        # middleware of its own failing. Answered the same way, JSON with a request id.
        status = status_for(exc)
        body, headers = error_body(status, exc, request.scope, unavailable_retry_after)
        return JSON(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError) -> JSON:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        field = ".".join(loc) or "request"
        return JSON(
            {"error": "validation_error", "message": f"{field}: {err.get('msg')}", "field": field},
            status_code=422,
        )
