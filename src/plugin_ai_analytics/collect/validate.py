"""Validation and normalisation of incoming metric batches, shared by every ingestion path.

A batch is all-or-nothing: the first bad value rejects it with an error that names the sample
and the field (``samples[3].error_rate``), so nothing is half-stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, NotRequired

import pydantic
from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

from ..domain import METRIC_NAMES, valid_plugin_id
from ..errors import PayloadTooLarge, ValidationError

__all__ = [
    "MetricSample",
    "MetricBatch",
    "BATCH_SCHEMA",
    "parse_batch",
    "validate_samples",
    "normalise_samples",
    "check_plugin_id",
]

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


# TypedDicts rather than models: pydantic-core validates straight into dicts, which is about
# twice as fast as building a model object per sample on 10,000-sample batches.
@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class MetricSample(TypedDict):
    """One sample as clients send it; timestamps are ISO-8601 (UTC if no zone) or epoch seconds."""

    timestamp: datetime
    plugin_id: NotRequired[str | None]
    cpu_percent: NotRequired[NonNegative | None]
    memory_mb: NotRequired[NonNegative | None]
    response_time_ms: NotRequired[NonNegative | None]
    response_time_p95_ms: NotRequired[NonNegative | None]
    error_rate: NotRequired[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None]
    request_count: NotRequired[Count | None]
    active_users: NotRequired[Count | None]


@with_config(ConfigDict(extra="forbid"))
class MetricBatch(TypedDict):
    samples: list[MetricSample]


_BATCH = TypeAdapter(MetricBatch)
_LIST = TypeAdapter(list[MetricSample])


def _inline_schema() -> dict[str, Any]:
    schema = _BATCH.json_schema()
    defs = schema.pop("$defs")
    schema["properties"]["samples"]["items"] = defs["MetricSample"]
    return schema


BATCH_SCHEMA = _inline_schema()


def check_plugin_id(plugin_id: str) -> str:
    if not valid_plugin_id(plugin_id):
        raise ValidationError(
            "plugin_id must be 1-128 letters, digits or . _ : - and start with a letter or digit",
            field="plugin_id",
            value=plugin_id[:200],
        )
    return plugin_id


def _field_path(loc: Sequence[Any]) -> str:
    path = "samples" if loc and isinstance(loc[0], int) else ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("list[MetricSample]", "MetricBatch", "MetricSample"):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def parse_batch(body: bytes | str, *, max_samples: int) -> list[MetricSample]:
    """Parse a JSON batch: ``{"samples": [...]}`` or a bare list of samples."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    stripped = text.lstrip()
    adapter: TypeAdapter[Any] = _LIST if stripped.startswith("[") else _BATCH
    # Refuse oversized batches before validating every sample: cheap count of top-level objects
    # is not possible without parsing, so parse leniently first and count.
    try:
        parsed = adapter.validate_json(text)
    except pydantic.ValidationError as exc:
        raise _named_error(exc) from None
    samples = parsed if isinstance(parsed, list) else parsed["samples"]
    if len(samples) > max_samples:
        raise PayloadTooLarge(
            f"samples: batch of {len(samples)} exceeds the limit of {max_samples} per request",
            field="samples",
            limit=max_samples,
        )
    if not samples:
        raise ValidationError("samples: batch is empty", field="samples")
    return samples


def validate_samples(samples: Sequence[dict[str, Any]]) -> list[MetricSample]:
    """Validate already-decoded samples (Python API, client, importers) exactly like JSON ones."""
    try:
        return _LIST.validate_python(samples)
    except pydantic.ValidationError as exc:
        raise _named_error(exc) from None


def _named_error(exc: pydantic.ValidationError) -> ValidationError:
    err = exc.errors(include_url=False)[0]
    field = _field_path(err["loc"])
    if err["type"] == "json_invalid":
        return ValidationError(f"body is not valid JSON: {err['msg']}", field="body")
    if err["type"] == "extra_forbidden":
        return ValidationError(f"{field}: unknown field", field=field)
    value = err.get("input")
    if isinstance(value, int | str | bool | None) or finite(value):
        shown = value if not isinstance(value, str) else value[:200]
    else:  # NaN/inf cannot travel in JSON; a nested object is named by its type
        shown = repr(value) if isinstance(value, float) else type(value).__name__
    return ValidationError(f"{field}: {err['msg']}", field=field, value=shown)


def normalise_samples(
    plugin_id: str,
    samples: Sequence[MetricSample],
    *,
    now: datetime,
    cpu_cores: int,
    max_future_skew_seconds: float,
) -> list[dict[str, Any]]:
    """Check what the schema cannot (CPU bound, future timestamps, plugin id) and turn samples
    into rows ``(epoch ms, *values in METRIC_NAMES order)``, de-duplicated by timestamp."""
    cpu_limit = 100.0 * cpu_cores
    horizon = now.timestamp() + max_future_skew_seconds
    rows: dict[int, tuple[Any, ...]] = {}
    for i, sample in enumerate(samples):
        ts = sample["timestamp"]
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        epoch = ts.timestamp()
        if epoch > horizon:
            raise ValidationError(
                f"samples[{i}].timestamp: {ts.isoformat()} is more than {max_future_skew_seconds:g} s in the future",
                field=f"samples[{i}].timestamp",
            )
        if epoch < 0:
            raise ValidationError(f"samples[{i}].timestamp: before 1970", field=f"samples[{i}].timestamp")
        claimed = sample.get("plugin_id")
        if claimed is not None and claimed != plugin_id:
            raise ValidationError(
                f"samples[{i}].plugin_id: {claimed!r} does not match the URL's plugin {plugin_id!r}",
                field=f"samples[{i}].plugin_id",
            )
        cpu = sample.get("cpu_percent")
        if cpu is not None and cpu > cpu_limit:
            raise ValidationError(
                f"samples[{i}].cpu_percent: {cpu:g} exceeds 100 × {cpu_cores} cores",
                field=f"samples[{i}].cpu_percent",
                value=cpu,
            )
        values = tuple(sample.get(name) for name in METRIC_NAMES)
        if values.count(None) == len(values):
            raise ValidationError(f"samples[{i}]: sample has no metric values", field=f"samples[{i}]")
        ms = int(round(epoch * 1000))
        earlier = rows.get(ms)
        if earlier is not None:  # same instant twice in one batch: later values win, gaps keep earlier
            values = tuple(v if v is not None else e for v, e in zip(values, earlier[1:], strict=True))
        rows[ms] = (ms, *values)
    return [rows[k] for k in sorted(rows)]


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
