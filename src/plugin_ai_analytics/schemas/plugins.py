"""The plugin registry as clients see it: a registration and how much data it has."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import Record

__all__ = ["Plugin", "PluginList"]


class Plugin(Record):
    plugin_id: str
    name: str
    description: str
    source: dict[str, Any] | None = Field(description="where metrics come from; null for a push-only plugin")
    interval_seconds: float = Field(description="sampling interval of the source; staleness is judged against it")
    enabled: bool
    memory_limit_mb: float | None
    cpu_limit_percent: float | None = Field(description="CPU allocation in % of one core (200 = two cores)")
    keep_history: bool = Field(description="retention leaves this plugin's records alone")
    created_at: str | None
    samples: int = Field(description="samples stored")
    first_sample: str | None
    last_sample: str | None


class PluginList(Record):
    plugins: list[Plugin]
