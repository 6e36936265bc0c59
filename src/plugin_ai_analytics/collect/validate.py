"""Validation and normalisation of incoming metric batches, shared by every ingestion path.

A batch is all-or-nothing: the first bad value rejects it with an error that names the sample
and the field (``samples[3].error_rate``), so nothing is half-stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..domain import METRIC_NAMES, valid_plugin_id
from ..errors import PayloadTooLarge, ValidationError

__all__ = ["MetricSample", "MetricBatch", "parse_batch", "normalise_samples", "check_plugin_id"]

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class MetricSample(BaseModel):
    """One sample as clients send it; timestamps are ISO-8601 (UTC if no zone) or epoch seconds."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    timestamp: datetime
    plugin_id: str | None = None
    cpu_percent: NonNegative | None = None
    memory_mb: NonNegative | None = None
    response_time_ms: NonNegative | None = None
    response_time_p95_ms: NonNegative | None = None
    error_rate: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    request_count: Count | None = None
    active_users: Count | None = None


class MetricBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: list[MetricSample]


_BATCH = TypeAdapter(MetricBatch)
_LIST = TypeAdapter(list[MetricSample])


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
        elif part in ("list[MetricSample]", "MetricBatch"):
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
        err = exc.errors(include_url=False)[0]
        field = _field_path(err["loc"])
        if err["type"] == "json_invalid":
            raise ValidationError(f"body is not valid JSON: {err['msg']}", field="body") from None
        if err["type"] == "extra_forbidden":
            raise ValidationError(f"{field}: unknown field", field=field) from None
        value = err.get("input")
        if isinstance(value, int | str | bool | None) or finite(value):
            shown = value if not isinstance(value, str) else value[:200]
        else:  # NaN/inf cannot travel in JSON; a nested object is named by its type
            shown = repr(value) if isinstance(value, float) else type(value).__name__
        raise ValidationError(f"{field}: {err['msg']}", field=field, value=shown) from None
    samples = parsed if isinstance(parsed, list) else parsed.samples
    if len(samples) > max_samples:
        raise PayloadTooLarge(
            f"samples: batch of {len(samples)} exceeds the limit of {max_samples} per request",
            field="samples",
            limit=max_samples,
        )
    if not samples:
        raise ValidationError("samples: batch is empty", field="samples")
    return samples


def normalise_samples(
    plugin_id: str,
    samples: Sequence[MetricSample],
    *,
    now: datetime,
    cpu_cores: int,
    max_future_skew_seconds: float,
) -> list[dict[str, Any]]:
    """Check what the schema cannot (CPU bound, future timestamps, plugin id) and turn samples
    into rows ``{ts: epoch ms, metric: value}``, de-duplicated by timestamp (last one wins)."""
    cpu_limit = 100.0 * cpu_cores
    horizon = now.timestamp() + max_future_skew_seconds
    rows: dict[int, dict[str, Any]] = {}
    for i, sample in enumerate(samples):
        ts = sample.timestamp if sample.timestamp.tzinfo else sample.timestamp.replace(tzinfo=UTC)
        epoch = ts.timestamp()
        if epoch > horizon:
            raise ValidationError(
                f"samples[{i}].timestamp: {ts.isoformat()} is more than {max_future_skew_seconds:g} s in the future",
                field=f"samples[{i}].timestamp",
            )
        if epoch < 0:
            raise ValidationError(f"samples[{i}].timestamp: before 1970", field=f"samples[{i}].timestamp")
        if sample.plugin_id is not None and sample.plugin_id != plugin_id:
            raise ValidationError(
                f"samples[{i}].plugin_id: {sample.plugin_id!r} does not match the URL's plugin {plugin_id!r}",
                field=f"samples[{i}].plugin_id",
            )
        if sample.cpu_percent is not None and sample.cpu_percent > cpu_limit:
            raise ValidationError(
                f"samples[{i}].cpu_percent: {sample.cpu_percent:g} exceeds 100 × {cpu_cores} cores",
                field=f"samples[{i}].cpu_percent",
                value=sample.cpu_percent,
            )
        values = {name: getattr(sample, name) for name in METRIC_NAMES}
        if all(v is None for v in values.values()):
            raise ValidationError(f"samples[{i}]: sample has no metric values", field=f"samples[{i}]")
        ms = int(round(epoch * 1000))
        row = rows.get(ms)
        if row is None:
            rows[ms] = {"ts": ms, **values}
        else:  # same instant twice in one batch: later values win, missing ones keep earlier
            row.update({k: v for k, v in values.items() if v is not None})
    return [rows[k] for k in sorted(rows)]


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
