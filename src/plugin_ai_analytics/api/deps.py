"""Typed dependencies shared by the routers, so a route's signature says what it needs."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, WithJsonSchema

from ..domain import PLUGIN_ID_PATTERN
from ..errors import AnalyticsError
from ..service import AnalyticsService
from ..times import to_ms

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

# What ``from``/``to`` accept: an RFC 3339 date-time (the zone may be left out: UTC).
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$")


def _date_time(value: str) -> str:
    if not _DATE_TIME.match(value):
        raise ValueError("not an ISO-8601 date-time such as 2026-11-27T10:00:00Z")
    try:
        to_ms(value)
    except AnalyticsError:
        raise ValueError("not a valid date-time (month, day or time out of range)") from None
    return value


DateTime = Annotated[
    str,
    AfterValidator(_date_time),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-27T10:00:00Z"]}),
]
# Rows to skip and records to return: far below what SQLite's 64-bit integers could overflow on.
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"rows to skip (at most {MAX_OFFSET:,})")]
