"""The plugin registry as a use case: register (API, YAML file), read, delete; a registration
with a source starts being sampled at once, a deleted plugin stops and is forgotten."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pydantic

from ..collect.registry import PluginSpec, load_registry_file
from ..errors import ValidationError
from ..logs import log_event
from ..schemas import Plugin
from ..store import MetricRecords, PluginRecords
from ..times import ms_to_iso
from .detection import Detection
from .sources import Sources

__all__ = ["Plugins", "public_plugin"]

_NO_SAMPLES = {"samples": 0, "first_ts": None, "last_ts": None}


class Plugins:
    def __init__(
        self, *, plugins: PluginRecords, metrics: MetricRecords, sources: Sources, detection: Detection
    ) -> None:
        self._plugins = plugins
        self._metrics = metrics
        self._sources = sources
        self._detection = detection

    def register(self, spec: dict[str, Any]) -> Plugin:
        """Create or replace a plugin's registration; a source starts being sampled at once."""
        try:
            plugin = PluginSpec.model_validate(spec)
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or "body"
            raise ValidationError(f"{field}: {first['msg']}", field=field) from None
        row = plugin.model_dump(mode="json")
        self._plugins.upsert(row)
        stored = self.get(plugin.plugin_id)
        self._sources.schedule(self._plugins.get(plugin.plugin_id) or row)
        log_event(logging.INFO, "register_plugin", "plugin registered", plugin=plugin.plugin_id)
        return stored

    def get(self, plugin_id: str) -> Plugin:
        return public_plugin(self._plugins.require(plugin_id), self._metrics.extent(plugin_id))

    def all(self) -> list[Plugin]:
        extents = self._metrics.extents()
        return [public_plugin(p, extents.get(p["plugin_id"], _NO_SAMPLES)) for p in self._plugins.all()]

    def delete(self, plugin_id: str) -> None:
        self._plugins.delete(plugin_id)
        self._sources.forget(plugin_id)
        self._detection.forget(plugin_id)

    def load_file(self, path: Path) -> list[str]:
        """Register every plugin of a YAML registry file (``plugins: [ {plugin_id, source, ...} ]``)."""
        ids = []
        for spec in load_registry_file(path):
            self.register(spec)
            ids.append(spec["plugin_id"])
        return ids

    def schedule_all(self) -> None:
        """Start sampling every registered plugin that has a source."""
        for plugin in self._plugins.all():
            self._sources.schedule(plugin)


def public_plugin(row: dict[str, Any], extent: dict[str, Any]) -> Plugin:
    """A registration with its data extent, as clients see it."""
    return Plugin(
        plugin_id=row["plugin_id"],
        name=row["name"],
        description=row["description"],
        source=row["source"],
        interval_seconds=row["interval_seconds"],
        enabled=row["enabled"],
        memory_limit_mb=row["memory_limit_mb"],
        cpu_limit_percent=row["cpu_limit_percent"],
        created_at=ms_to_iso(row["created_at"]),
        samples=extent["samples"],
        first_sample=ms_to_iso(extent["first_ts"]),
        last_sample=ms_to_iso(extent["last_ts"]),
    )
