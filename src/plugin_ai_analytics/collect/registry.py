"""The plugin registry's record and its YAML file form.

A plugin names where its metrics come from (a process, a Prometheus endpoint, a PromQL query),
or no source at all when it pushes its own samples.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..domain import PLUGIN_ID_PATTERN, metric_spec
from ..errors import ValidationError
from .base import parse_source_config

__all__ = ["PluginChanges", "PluginReplacement", "PluginSpec", "load_registry_file"]

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Stated in the schema too, so a client generated from it sends only what is accepted.
LabelName = Annotated[str, Field(pattern=_LABEL_NAME.pattern)]
LabelValue = Annotated[str, Field(max_length=256)]
# Strict: ``0`` or ``"yes"`` for a boolean is refused, not coerced.
Flag = Annotated[bool, Field(strict=True)]
MAX_MEMORY_LIMIT_MB = metric_spec("memory_mb").upper  # as for samples
MAX_CPU_LIMIT_PERCENT = metric_spec("cpu_percent").upper


class _PluginFields(BaseModel):
    """What a registration says about a plugin, besides its id."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=256)
    description: str = Field(default="", max_length=4000)
    source: dict[str, Any] | None = Field(
        default=None,
        description="where metrics come from; see docs/collection.md (type: process|prometheus|promql)",
    )
    interval_seconds: float = Field(default=60.0, ge=1.0, le=86_400.0, allow_inf_nan=False)
    enabled: Flag = True
    memory_limit_mb: float | None = Field(
        default=None, gt=0, le=MAX_MEMORY_LIMIT_MB, description="memory limit, for time-to-limit advice"
    )
    cpu_limit_percent: float | None = Field(
        default=None,
        gt=0,
        le=MAX_CPU_LIMIT_PERCENT,
        description="CPU allocation in % of one core (200 = two cores), for right-sizing advice",
    )
    keep_history: Flag = Field(
        default=False,
        description="retention leaves this plugin's records alone (imported reference history); default false",
    )
    labels: dict[LabelName, LabelValue] = Field(
        default_factory=dict,
        max_length=32,
        description="e.g. {team: payments}: alert notification policies and silences match on them",
    )

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _LABEL_NAME.match(name) or len(text) > 256:
                raise ValueError(f"label {name!r}: names are letters, digits and _ (not first); values up to 256 chars")
        return value

    @field_validator("source")
    @classmethod
    def _valid_source(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        # Our ValidationError (not a ValueError) passes through pydantic untouched, so the
        # operator sees the exact path, e.g. source.mapping.error_status.
        return parse_source_config(value).model_dump(mode="json")


class PluginSpec(_PluginFields):
    """A plugin's registration (``POST /plugins``, a YAML registry entry)."""

    plugin_id: str = Field(pattern=PLUGIN_ID_PATTERN)


class PluginReplacement(_PluginFields):
    """A whole registration that replaces the current one (``PUT /plugins/{id}``): the path names
    the plugin; ``plugin_id`` may be left out, and if given must be the same. Fields left out take
    their defaults."""

    plugin_id: str | None = Field(default=None, pattern=PLUGIN_ID_PATTERN)


class PluginChanges(BaseModel):
    """Some fields of a registration (``PATCH /plugins/{id}``); what is left out stays as it is,
    and ``null`` clears a field that may be empty (source, limits, name)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=4000)
    source: dict[str, Any] | None = None
    interval_seconds: float | None = Field(default=None, ge=1.0, le=86_400.0, allow_inf_nan=False)
    enabled: Flag | None = None
    memory_limit_mb: float | None = Field(default=None, gt=0, le=MAX_MEMORY_LIMIT_MB)
    cpu_limit_percent: float | None = Field(default=None, gt=0, le=MAX_CPU_LIMIT_PERCENT)
    keep_history: Flag | None = None
    labels: dict[LabelName, LabelValue] | None = Field(default=None, max_length=32)

    def apply_to(self, current: dict[str, Any]) -> dict[str, Any]:
        """The registration with these changes applied (to be validated as a whole by ``PluginSpec``)."""
        merged = {k: current.get(k) for k in PluginSpec.model_fields if k in current}
        merged.update(self.model_dump(include=self.model_fields_set))
        for field in ("description", "interval_seconds", "enabled", "keep_history", "labels"):
            if merged.get(field) is None:
                merged.pop(field, None)  # null means "as before" for fields that cannot be empty
        return merged


def load_registry_file(path: Path) -> list[dict[str, Any]]:
    """Read ``plugins: [...]`` from a YAML file, every entry validated before any is returned.

    ``id`` is accepted for ``plugin_id`` (what an operator writes first). Every problem of every
    entry is reported, one line each: ``FILE:LINE: plugins[I] (plugin_id 'x'): field F: what is wrong``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        document = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        reason = str(exc).replace("\n", " ")
        raise ValidationError(f"cannot read plugins file {path}: {reason}", field="plugins_file") from None
    entries = document.get("plugins") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValidationError(f"{path}: expected a top-level 'plugins:' list", field="plugins")
    lines = _entry_lines(text)
    problems: list[tuple[str, str]] = []  # (field path, line)
    specs: list[dict[str, Any]] = []
    first_index: dict[str, int] = {}
    for i, entry in enumerate(entries):
        where = f"{path}:{lines[i]}" if i < len(lines) else str(path)
        entry_problems = _entry_problems(entry)
        plugin_id = entry.get("plugin_id", entry.get("id")) if isinstance(entry, dict) else None
        label = f"{where}: plugins[{i}]" + (f" (plugin_id {plugin_id!r})" if plugin_id is not None else "")
        if not entry_problems:
            spec = PluginSpec.model_validate(_normalised(entry))
            if spec.plugin_id in first_index:
                entry_problems = [("plugin_id", f"repeats plugins[{first_index[spec.plugin_id]}]")]
            else:
                first_index[spec.plugin_id] = i
                specs.append(spec.model_dump(mode="json"))
        problems += [(f"plugins[{i}].{field}", f"{label}: field {field}: {what}") for field, what in entry_problems]
    if problems:
        raise ValidationError("\n".join(line for _, line in problems), field=problems[0][0])
    return specs


def _normalised(entry: dict[str, Any]) -> dict[str, Any]:
    entry = dict(entry)
    if "id" in entry and "plugin_id" not in entry:
        entry["plugin_id"] = entry.pop("id")
    return entry


def _entry_problems(entry: Any) -> list[tuple[str, str]]:
    """(field, what is wrong) for each problem of one file entry; empty when it is valid."""
    if not isinstance(entry, dict):
        return [("", f"expected a mapping (plugin_id: ..., source: ...), got {type(entry).__name__}")]
    if "id" in entry and "plugin_id" in entry:
        return [("id", "give plugin_id or id, not both")]
    entry = _normalised(entry)
    problems = []
    try:
        # The source separately: its validator stops at its first problem, the rest is all reported.
        PluginSpec.model_validate({**entry, "source": None})
    except pydantic.ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            if error["type"] == "missing":
                what = "required" + (" (or id)" if field == "plugin_id" else "")
            elif error["type"] == "extra_forbidden":
                known = ["id", "plugin_id", *(f for f in PluginSpec.model_fields if f != "plugin_id")]
                what = f"unknown field; known: {', '.join(known)}"
            else:
                got = repr(error["input"])
                what = f"{error['msg']} (got {got if len(got) <= 60 else got[:57] + '...'})"
            problems.append((field, what))
    if entry.get("source") is not None:
        try:
            parse_source_config(entry["source"])
        except ValidationError as exc:
            field = exc.field or "source"
            problems.append((field, exc.message.removeprefix(f"{field}: ")))
    return problems


def _entry_lines(text: str) -> list[int]:
    """The 1-based line where each entry of the ``plugins`` list starts (empty if not found)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "plugins" and isinstance(value, yaml.SequenceNode):
            return [node.start_mark.line + 1 for node in value.value]
    return []
