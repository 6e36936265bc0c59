"""The OpenAPI document as committed in docs/openapi.json: stable text (sorted keys, indented)
so its difference in a review shows exactly what changed in the contract."""

from __future__ import annotations

import json

from .app import create_app

__all__ = ["openapi_json"]


def openapi_json() -> str:
    return json.dumps(create_app().openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
