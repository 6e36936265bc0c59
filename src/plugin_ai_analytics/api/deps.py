"""Typed dependencies shared by the routers, so a route's signature says what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, WithJsonSchema

from ..domain import PLUGIN_ID_PATTERN
from ..service import AnalyticsService
from ..times import parse_date_time

__all__ = ["DateTime", "MAX_OFFSET", "MAX_RECORD_ID", "Offset", "PluginId", "ServiceDep"]

MAX_OFFSET = 1_000_000_000
MAX_RECORD_ID = 2**53  # ids are SQLite/PostgreSQL 64-bit integers; 2^53 is also exact in JSON


def _service(request: Request) -> AnalyticsService:
    return request.app.state.service


ServiceDep = Annotated[AnalyticsService, Depends(_service)]
PluginId = Annotated[
    str,
    Path(description="the plugin's id (1-128 of letters, digits, . _ : -)", pattern=PLUGIN_ID_PATTERN),
]


# -- query parameters shared by several routes: each bounded, each format stated in the schema --


def _date_time(value: str) -> str:
    parse_date_time(value)  # raises ValueError naming what is wrong; the service reads the string
    return value


DateTime = Annotated[
    str,
    AfterValidator(_date_time),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-27T10:00:00Z"]}),
]
# Rows to skip and records to return: far below what SQLite's 64-bit integers could overflow on.
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"rows to skip (at most {MAX_OFFSET:,})")]
