"""The plugin registry as clients see it: a registration and how much data it has."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import Record

__all__ = ["Plugin", "PluginList", "SourceStatus"]


class SourceStatus(Record):
    """How the plugin's source has been answering this service's scheduled reads."""

    ok: bool = Field(description="the last read succeeded (true before the first read)")
    failures: int = Field(description="consecutive failed reads")
    last_error: str | None
    failing_since: str | None
    last_success: str | None


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
    labels: dict[str, str] = Field(default_factory=dict, description="labels alert routing and silences match on")
    created_at: str | None
    source_status: SourceStatus | None = Field(
        default=None, description="how the source is answering (null without a source, or before it is read)"
    )
    samples: int = Field(description="samples stored")
    first_sample: str | None
    last_sample: str | None


class PluginList(Record):
    plugins: list[Plugin]
