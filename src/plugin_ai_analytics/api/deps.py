"""Typed dependencies shared by the routers, so a route's signature says what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from ..domain import PLUGIN_ID_PATTERN
from ..service import AnalyticsService

__all__ = ["ServiceDep", "PluginId"]


def _service(request: Request) -> AnalyticsService:
    return request.app.state.service


ServiceDep = Annotated[AnalyticsService, Depends(_service)]
PluginId = Annotated[
    str,
    Path(description="the plugin's id (1-128 of letters, digits, . _ : -)", pattern=PLUGIN_ID_PATTERN),
]
