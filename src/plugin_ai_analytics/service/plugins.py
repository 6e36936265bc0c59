"""The plugin registry as a use case: register (API, YAML file), read, delete; a registration
with a source starts being sampled at once, a deleted plugin stops and is forgotten."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic

from ..collect.registry import PluginChanges, PluginReplacement, PluginSpec, load_registry_file
from ..errors import Conflict, ValidationError
from ..logs import log_event
from ..schemas import Plugin, SourceStatus
from ..store import MetricRecords, PluginRecords
from ..store.registry import SECRET_KEYS
from ..times import ms_to_iso
from .detection import Detection
from .sources import Sources

__all__ = ["Plugins", "public_plugin"]

_NO_SAMPLES = {"samples": 0, "first_ts": None, "last_ts": None}


class Plugins:
    def __init__(
        self,
        *,
        plugins: PluginRecords,
        metrics: MetricRecords,
        sources: Sources,
        detection: Detection,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._on_change = on_change or (lambda: None)  # configuration backups follow every change
        self._plugins = plugins
        self._metrics = metrics
        self._sources = sources
        self._detection = detection

    def register(self, spec: dict[str, Any]) -> Plugin:
        """Create or replace a plugin's registration (a registry file is declarative); a source
        starts being sampled at once."""
        return self._store(_validated(spec), "registered")

    def create(self, spec: PluginSpec) -> Plugin:
        """Register a new plugin; one already known (registered, or seen pushing) is a conflict."""
        if self._plugins.get(spec.plugin_id) is not None:
            raise Conflict(
                f"plugin {spec.plugin_id!r} is already known: PUT /plugins/{spec.plugin_id} replaces its "
                "registration, PATCH changes some fields",
                plugin_id=spec.plugin_id,
            )
        return self._store(spec.model_dump(mode="json"), "registered")

    def replace(self, plugin_id: str, spec: PluginReplacement) -> tuple[Plugin, bool]:
        """Replace the whole registration (fields left out take their defaults); returns the
        plugin and whether it was new."""
        if spec.plugin_id is not None and spec.plugin_id != plugin_id:
            raise ValidationError(
                f"plugin_id {spec.plugin_id!r} in the body is not the plugin of the URL ({plugin_id!r}); "
                "leave it out or give the same",
                field="plugin_id",
            )
        new = self._plugins.get(plugin_id) is None
        return self._store(_validated({**spec.model_dump(mode="json"), "plugin_id": plugin_id}), "replaced"), new

    def update(self, plugin_id: str, changes: PluginChanges) -> Plugin:
        """Change only the fields given; the rest of the registration stays."""
        current = self._plugins.require(plugin_id)
        return self._store(_validated(changes.apply_to(current)), "updated")

    def keep_history(self, plugin_id: str) -> None:
        """Exempt a plugin from retention, registering it (push-only) if it is new."""
        current = self._plugins.get(plugin_id)
        row = PluginChanges(keep_history=True).apply_to(current or {"plugin_id": plugin_id})
        self._store(row, "set to keep its history")

    def _store(self, row: dict[str, Any], what: str) -> Plugin:
        self._plugins.upsert(row)
        self._on_change()
        stored = self._plugins.require(row["plugin_id"])
        self._sources.schedule(stored)
        self._detection.limits_changed(row["plugin_id"])  # its detector judges with the new limits
        log_event(logging.INFO, "register_plugin", f"plugin {what}", plugin=row["plugin_id"])
        return public_plugin(stored, self._metrics.extent(row["plugin_id"]), self._sources.status(row["plugin_id"]))

    def get(self, plugin_id: str, *, reveal: bool = False) -> Plugin:
        """A registration; its source's credentials shown only with ``reveal`` (an admin's call)."""
        row = self._plugins.require(plugin_id)
        return public_plugin(row, self._metrics.extent(plugin_id), self._sources.status(plugin_id), reveal=reveal)

    def all(self) -> list[Plugin]:
        extents = self._metrics.extents()
        return [
            public_plugin(p, extents.get(p["plugin_id"], _NO_SAMPLES), self._sources.status(p["plugin_id"]))
            for p in self._plugins.all()
        ]

    def delete(self, plugin_id: str) -> None:
        self._plugins.delete(plugin_id)
        self._on_change()
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


def _validated(spec: dict[str, Any]) -> dict[str, Any]:
    """A whole registration checked, as stored; a problem is our ValidationError naming the field
    (pydantic's own would reach a face as a 500)."""
    try:
        return PluginSpec.model_validate(spec).model_dump(mode="json")
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise ValidationError(f"{field}: {first['msg']}", field=field) from None


REDACTED = "********"


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_KEYS and v else _redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def public_plugin(
    row: dict[str, Any], extent: dict[str, Any], source_status: SourceStatus | None = None, *, reveal: bool = False
) -> Plugin:
    """A registration with its data extent, as clients see it: credentials never, unless revealed."""
    return Plugin(
        plugin_id=row["plugin_id"],
        name=row["name"],
        description=row["description"],
        source=row["source"] if reveal else _redacted(row["source"]),
        interval_seconds=row["interval_seconds"],
        enabled=row["enabled"],
        memory_limit_mb=row["memory_limit_mb"],
        cpu_limit_percent=row["cpu_limit_percent"],
        keep_history=bool(row.get("keep_history")),
        labels=row.get("labels") or {},
        source_status=source_status if row.get("source") else None,
        created_at=ms_to_iso(row["created_at"]),
        samples=extent["samples"],
        first_sample=ms_to_iso(extent["first_ts"]),
        last_sample=ms_to_iso(extent["last_ts"]),
    )
