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
from pydantic import ConfigDict, Field, PlainValidator, TypeAdapter, WithJsonSchema, with_config
from typing_extensions import TypedDict

from ..domain import METRIC_NAMES, METRICS, valid_plugin_id
from ..errors import PayloadTooLarge, ValidationError
from ..times import ms_to_iso, parse_date_time

__all__ = [
    "COUNT_METRICS",
    "LIMITS",
    "MetricSample",
    "MetricBatch",
    "BATCH_SCHEMA",
    "parse_batch",
    "validate_samples",
    "normalise_samples",
    "check_plugin_id",
]

# Upper bounds per metric (domain.METRICS): counts are integers up to 2^53.
LIMITS: dict[str, float] = {m.name: m.upper for m in METRICS}
COUNT_METRICS = tuple(m.name for m in METRICS if m.integer)
MAX_COUNT = int(LIMITS["request_count"])
# Epoch seconds up to 2^33 (year 2242); the future-skew check refuses anything ahead of now anyway.
MAX_EPOCH_SECONDS = float(2**33)


def _timestamp(value: Any) -> datetime:
    """An ISO-8601 date-time (UTC if no zone), or a number of epoch SECONDS: a number is never
    guessed to be milliseconds from its size; milliseconds go in ``timestamp_ms``."""
    if isinstance(value, datetime):  # the Python API
        return value
    if isinstance(value, bool):
        raise ValueError("must be an ISO-8601 date-time or epoch seconds, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value <= MAX_EPOCH_SECONDS:
            raise ValueError(
                f"epoch seconds must be between 0 and {MAX_EPOCH_SECONDS:.0f} (milliseconds: timestamp_ms)"
            )
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        return parse_date_time(value)
    raise ValueError("must be an ISO-8601 date-time or epoch seconds")


Timestamp = Annotated[
    datetime,
    PlainValidator(_timestamp),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time", "description": "ISO-8601; UTC if no zone"},
                {"type": "number", "minimum": 0, "maximum": MAX_EPOCH_SECONDS, "description": "epoch seconds"},
            ]
        }
    ),
]
TimestampMs = Annotated[int, Field(strict=True, ge=0, le=int(MAX_EPOCH_SECONDS) * 1000)]


def _number(name: str) -> Any:
    # strict: "35" and true are refused, not coerced (an int is a float here)
    return Annotated[float, Field(strict=True, ge=0, le=LIMITS[name], allow_inf_nan=False)]


Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]


# TypedDicts rather than models: pydantic-core validates straight into dicts, which is about
# twice as fast as building a model object per sample on 10,000-sample batches.
@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class MetricSample(TypedDict):
    """One sample as clients send it: exactly one of ``timestamp`` (ISO-8601, UTC if no zone, or
    epoch seconds) and ``timestamp_ms`` (epoch milliseconds, an integer)."""

    timestamp: NotRequired[Timestamp]
    timestamp_ms: NotRequired[TimestampMs]
    plugin_id: NotRequired[str | None]
    cpu_percent: NotRequired[_number("cpu_percent") | None]
    memory_mb: NotRequired[_number("memory_mb") | None]
    response_time_ms: NotRequired[_number("response_time_ms") | None]
    response_time_p95_ms: NotRequired[_number("response_time_p95_ms") | None]
    error_rate: NotRequired[_number("error_rate") | None]
    request_count: NotRequired[Count | None]
    active_users: NotRequired[Count | None]


Samples = Annotated[list[MetricSample], Field(min_length=1)]


@with_config(ConfigDict(extra="forbid"))
class MetricBatch(TypedDict):
    samples: Samples


_BATCH = TypeAdapter(MetricBatch)
_LIST = TypeAdapter(Samples)


def _inline_schema() -> dict[str, Any]:
    schema = _BATCH.json_schema()
    sample = schema.pop("$defs")["MetricSample"]
    # exactly one of the two ways to say when (pydantic's TypedDict cannot state it)
    sample["oneOf"] = [{"required": ["timestamp"]}, {"required": ["timestamp_ms"]}]
    schema["properties"]["samples"]["items"] = sample
    bare = {"type": "array", "items": sample, "minItems": 1, "description": "the samples alone"}
    return {"anyOf": [schema, bare]}


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
        elif part in ("list[MetricSample]", "MetricBatch", "MetricSample") or part.startswith("function-"):
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
    max_future_skew_seconds: float,
) -> list[dict[str, Any]]:
    """Check what the schema cannot (one timestamp, not in the future, the plugin id) and turn
    samples into rows ``(epoch ms, *values in METRIC_NAMES order)``, de-duplicated by timestamp."""
    horizon_ms = (now.timestamp() + max_future_skew_seconds) * 1000
    rows: dict[int, tuple[Any, ...]] = {}
    for i, sample in enumerate(samples):
        ms = _epoch_ms(sample, i)
        if ms > horizon_ms:
            raise ValidationError(
                f"samples[{i}].timestamp: {ms_to_iso(ms)} is more than {max_future_skew_seconds:g} s in the future"
                " (a number is epoch seconds; milliseconds go in timestamp_ms)",
                field=f"samples[{i}].timestamp",
            )
        claimed = sample.get("plugin_id")
        if claimed is not None and claimed != plugin_id:
            raise ValidationError(
                f"samples[{i}].plugin_id: {claimed!r} does not match the URL's plugin {plugin_id!r}",
                field=f"samples[{i}].plugin_id",
            )
        values = tuple(sample.get(name) for name in METRIC_NAMES)
        if values.count(None) == len(values):
            raise ValidationError(f"samples[{i}]: sample has no metric values", field=f"samples[{i}]")
        earlier = rows.get(ms)
        if earlier is not None:  # same instant twice in one batch: later values win, gaps keep earlier
            values = tuple(v if v is not None else e for v, e in zip(values, earlier[1:], strict=True))
        rows[ms] = (ms, *values)
    return [rows[k] for k in sorted(rows)]


def _epoch_ms(sample: MetricSample, i: int) -> int:
    if ("timestamp" in sample) == ("timestamp_ms" in sample):
        raise ValidationError(
            f"samples[{i}]: give exactly one of timestamp (ISO-8601 or epoch seconds) and timestamp_ms",
            field=f"samples[{i}].timestamp",
        )
    if "timestamp_ms" in sample:
        return sample["timestamp_ms"]
    ts = sample["timestamp"]
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    ms = int(round(ts.timestamp() * 1000))
    if ms < 0:
        raise ValidationError(f"samples[{i}].timestamp: before 1970", field=f"samples[{i}].timestamp")
    return ms


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
