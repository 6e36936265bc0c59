"""The API's contract made true: every answer a route can give is in the OpenAPI document with
the body it really has, and the framework's own answers (404 for an unknown path, 405 for a
method a path does not have, 400 for a body that cannot be decoded) are the same JSON error as
the service's, with an ``Allow`` header naming every method of the path.

What each route can answer besides its success is decided here once: the statuses every guarded
route shares (401, 403, 429 for repeated authentication failures, 503 when the database is
unavailable), those of any request with a body (413, 415, 422), 404 for a path naming a record,
and the few a route adds of its own (``_OWN``). tests/api/test_contract.py runs schemathesis
over the whole API against this document.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException

from ..security.policy import API, rule_for
from ..security.roles import Permission
from .limits import BodyTooLarge
from .responses import JSON

__all__ = ["ERROR_SCHEMA", "install_contract"]

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Every error answer: a stable code, a message for people, and the field at fault when one is",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "e.g. validation_error, not_found, payload_too_large"},
        "message": {"type": "string"},
        "field": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "the input at fault, e.g. samples[3].error_rate, limit, from",
        },
    },
    "additionalProperties": True,
}

_WHY = {
    "400": "the Host header names a host this service does not answer for",
    "401": "no token, or a token that is unknown, expired or revoked",
    "403": "the token's role or plugin scope does not allow this call",
    "404": "no such record (plugin, job, event, silence, contact point, notification)",
    "409": "the request clashes with the current state (see the message and its fields)",
    "413": "the body is over the size limit (AI_ANALYTICS_MAX_BODY_BYTES) or the batch over its sample limit",
    "415": "a body that is not application/json",
    "422": "bad input; `field` names it",
    "429": "too many failed authentications from this address, or the job queue is full; see Retry-After",
    "502": "the plugin's registered source could not be read",
    "503": "the database is unavailable; retry after Retry-After",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}
}

# What a route answers of its own, beyond the shared statuses (see the module's docstring).
_OWN: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/collect-metrics/{plugin_id}"): (502,),  # an empty body reads the plugin's source
    ("POST", "/plugins"): (409,),  # the id is taken
    ("POST", "/train-models/{plugin_id}"): (429,),  # the job queue is full
    ("POST", "/batch-analysis"): (404, 429),  # unknown plugins; the job queue is full
    ("GET", "/predict/{plugin_id}"): (409,),  # too little history, or not trained yet
    ("POST", "/alerts/deliveries/{delivery_id}/retry"): (409,),  # the notification is not dead
    ("DELETE", "/alerting/contact-points/{name}"): (409,),  # a policy still uses it
}
# Paths that name a record but create it when it is missing (no 404).
_CREATES = {("PUT", "/plugins/{plugin_id}"), ("PUT", "/alerting/contact-points/{name}")}
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def install_contract(app: FastAPI) -> None:
    """Answer the framework's errors as the service's JSON error, and serve the true document."""

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSON:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            methods = _allowed_methods(app, request)
            if methods is not None:  # else a page's route: Starlette's own Allow is right
                headers["Allow"] = ", ".join(methods)
            body = {"error": "method_not_allowed", "message": f"{request.method} is not allowed here"}
        elif isinstance(exc, BodyTooLarge):
            body = {"error": "payload_too_large", "message": str(exc.detail), "field": "body", "limit": exc.limit}
        elif exc.status_code == 404:
            body = {"error": "not_found", "message": str(exc.detail)}
        elif exc.status_code == 400:
            # FastAPI's "There was an error parsing the body": bad input like any other.
            return JSON(
                {"error": "validation_error", "message": "body: not valid JSON", "field": "body"}, status_code=422
            )
        else:
            code = re.sub(r"[^a-z]+", "_", str(exc.detail).lower()).strip("_") or "error"
            body = {"error": code, "message": str(exc.detail)}
        return JSON(body, status_code=exc.status_code, headers=headers)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document_answers(schema, app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _allowed_methods(app: FastAPI, request: Request) -> list[str] | None:
    """Every method the documented path has (Starlette names only the first route's)."""
    for pattern, methods in _path_methods(app):
        if pattern.match(request.url.path):
            return sorted({*methods, "HEAD"} if "GET" in methods else methods)
    return None


def _path_methods(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    cached = getattr(app.state, "path_methods", None)
    if cached is None:
        cached = [
            (re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"), {m.upper() for m in ops})
            for path, ops in app.openapi()["paths"].items()
        ]
        app.state.path_methods = cached
    return cached


def document_answers(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Add to every operation the error answers it can give, all with the one error schema."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    # FastAPI's own validation-error shapes are never sent (api/errors.py reshapes them).
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path, operations in schema.get("paths", {}).items():
        relative = path[len(API) :] if path.startswith(API) else path
        for method, operation in operations.items():
            verb = method.upper()
            answers = operation.setdefault("responses", {})
            takes_input = "requestBody" in operation or bool(operation.get("parameters"))
            for status in _statuses(verb, path, relative, takes_input=takes_input):
                key = str(status)
                answer = answers.setdefault(key, {"description": _WHY.get(key, "error")})
                answer["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                if key in ("429", "503"):
                    answer["headers"] = _RETRY_AFTER
    return schema


def _statuses(verb: str, path: str, relative: str, *, takes_input: bool) -> list[int]:
    statuses = {400, 401, 429, 503}
    if rule_for(verb, path).permission is not Permission.PUBLIC:
        statuses.add(403)
    if takes_input:
        statuses.add(422)
    if verb in _BODY_METHODS:
        statuses |= {413, 415}
    if "{" in relative and (verb, relative) not in _CREATES:
        statuses.add(404)
    statuses |= set(_OWN.get((verb, relative), ()))
    return sorted(statuses)
