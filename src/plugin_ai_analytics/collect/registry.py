"""The plugin registry's record and its YAML file form.

A plugin names where its metrics come from (a process, a Prometheus endpoint, a PromQL query),
or no source at all when it pushes its own samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..domain import PLUGIN_ID_PATTERN
from ..errors import ValidationError

__all__ = ["PluginSpec", "load_registry_file"]


class PluginSpec(BaseModel):
    """A plugin's registration."""

    model_config = ConfigDict(extra="forbid")

    plugin_id: str = Field(pattern=PLUGIN_ID_PATTERN)
    name: str | None = Field(default=None, max_length=256)
    description: str = Field(default="", max_length=4000)
    source: dict[str, Any] | None = Field(
        default=None,
        description="where metrics come from; see docs/collection.md (type: process|prometheus|promql)",
    )
    interval_seconds: float = Field(default=60.0, ge=1.0, le=86_400.0)
    enabled: bool = True
    memory_limit_mb: float | None = Field(default=None, gt=0, description="memory limit, for time-to-limit advice")
    cpu_limit_percent: float | None = Field(
        default=None, gt=0, description="CPU allocation in % of one core (200 = two cores), for right-sizing advice"
    )

    @field_validator("source")
    @classmethod
    def _valid_source(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        from .base import parse_source_config

        # Our ValidationError (not a ValueError) passes through pydantic untouched, so the
        # operator sees the exact path, e.g. source.mapping.error_status.
        return parse_source_config(value).model_dump(mode="json")


def load_registry_file(path: Path) -> list[dict[str, Any]]:
    """Read ``plugins: [...]`` from a YAML file; an invalid entry names its index and field."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationError(f"cannot read plugins file {path}: {exc}", field="plugins_file") from None
    entries = document.get("plugins") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValidationError(f"{path}: expected a top-level 'plugins:' list", field="plugins")
    specs = []
    for i, entry in enumerate(entries):
        try:
            specs.append(PluginSpec.model_validate(entry).model_dump(mode="json"))
        except Exception as exc:
            raise ValidationError(f"{path}: plugins[{i}]: {exc}", field=f"plugins[{i}]") from None
    return specs
