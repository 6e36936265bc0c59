"""The OpenAPI schema documents every answer: a client generated from it knows each field.

docs/openapi.json is the committed copy; when a route or a record changes, regenerate it with
``plugin-ai-analytics openapi > docs/openapi.json`` and review the difference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plugin_ai_analytics.api.app import create_app
from plugin_ai_analytics.api.openapi import openapi_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return create_app().openapi()


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def test_every_json_answer_has_named_fields(schema: dict[str, Any]) -> None:
    unnamed = []
    json_routes = 0
    for path, method, op in _operations(schema):
        for status, response in op["responses"].items():
            if not status.startswith("2"):
                continue
            body = (response.get("content") or {}).get("application/json")
            if body is None:
                continue
            json_routes += 1
            resolved = _resolve(schema, body.get("schema") or {})
            if resolved.get("type") != "object" or not resolved.get("properties"):
                unnamed.append(f"{method.upper()} {path} {status}: {json.dumps(body.get('schema'))[:120]}")
    assert json_routes >= 20
    assert not unnamed, "JSON answers without named fields:\n" + "\n".join(unnamed)


def test_every_operation_documents_a_success(schema: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, method, op in _operations(schema)
        if not any(status.startswith("2") for status in op["responses"])
    ]
    assert not missing


def test_streamed_exports_declare_their_media_types(schema: dict[str, Any]) -> None:
    content = schema["paths"]["/api/plugin-ai-analytics/export-data/{plugin_id}"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/vnd.apache.parquet"} <= content.keys()


def test_the_committed_schema_is_current() -> None:
    assert DOC.exists(), "docs/openapi.json is missing: plugin-ai-analytics openapi > docs/openapi.json"
    assert DOC.read_text(encoding="utf-8") == openapi_json(), (
        "docs/openapi.json drifted from the code: run `plugin-ai-analytics openapi > docs/openapi.json` "
        "and review the difference"
    )


def test_a_forecast_point_is_spelled_once() -> None:
    """domain.FORECAST_POINT_FIELDS is the spelling; the served point, the stored row and the
    engine's table follow it (the engine calls the point forecast 'forecast')."""
    from plugin_ai_analytics.domain import FORECAST_POINT_FIELDS
    from plugin_ai_analytics.forecast._results import FORECAST_COLUMNS
    from plugin_ai_analytics.schemas import ForecastPoint
    from plugin_ai_analytics.store import PREDICTION_COLUMNS

    assert tuple(ForecastPoint.__annotations__) == ("timestamp", *FORECAST_POINT_FIELDS)
    assert PREDICTION_COLUMNS == ("metric", "target_ts", *FORECAST_POINT_FIELDS, "model_id")
    assert FORECAST_COLUMNS == ("timestamp", "forecast", *FORECAST_POINT_FIELDS[1:])
