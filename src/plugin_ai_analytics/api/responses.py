"""JSON responses: a schema record is written by pydantic-core from its typed fields; anything
else (error bodies) by orjson."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..schemas import Record

__all__ = ["JSON"]


class JSON(JSONResponse):
    """A ``JSONResponse`` (so OpenAPI documents the route's response model) rendered faster."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, Record):
            return content.json_bytes()
        if isinstance(content, BaseModel):
            return content.__pydantic_serializer__.to_json(content)
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
