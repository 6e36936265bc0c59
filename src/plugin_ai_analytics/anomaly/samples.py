"""What callers hand the detector, checked and converted once: a sample's timestamp (UTC) and
values (None, NaN or inf: missing), or a block of samples as per-metric float columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..errors import ValidationError

__all__ = ["as_utc", "block_arguments", "clean_values", "sample_at"]


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return v is None
    return True


def as_utc(ts: datetime) -> datetime:
    """``ts`` (a datetime or a pandas Timestamp) in UTC; a naive one is taken as UTC."""
    if not isinstance(ts, datetime):
        raise ValidationError(f"timestamp must be a datetime, not {type(ts).__name__}", field="timestamp")
    ts = ts.to_pydatetime() if hasattr(ts, "to_pydatetime") else ts
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def clean_values(values: dict[str, float | None]) -> dict[str, float | None]:
    """Each metric's value as a float, None where missing (None, NaN, inf); ``ValidationError``
    naming the metric whose value is not a number."""
    clean: dict[str, float | None] = {}
    for name, v in values.items():
        if v is None:
            clean[name] = None
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValidationError(f"{name} must be a number, not {v!r}", field=name) from None
        clean[name] = f if math.isfinite(f) else None
    return clean


def sample_at(columns: Mapping[str, np.ndarray], i: int) -> dict[str, float | None]:
    """Sample ``i`` of validated columns, as ``update`` takes it."""
    return {name: (None if math.isnan(col[i]) else float(col[i])) for name, col in columns.items()}


def block_arguments(
    timestamps: Sequence[datetime], metrics: Mapping[str, Sequence[float | None]]
) -> tuple[list[datetime], dict[str, np.ndarray]]:
    """Validated block of samples: UTC timestamps, strictly increasing, and per metric a float
    column (NaN where missing), each value converted as ``update`` converts it."""
    times = [as_utc(ts) for ts in timestamps]
    columns: dict[str, np.ndarray] = {}
    for name, column in metrics.items():
        if len(column) != len(times):
            raise ValidationError(f"{name} has {len(column)} values for {len(times)} timestamps", field=name)
        try:
            col = np.array(column, dtype=float)
        except (TypeError, ValueError):  # name the offending value the way update() does
            clean_values(dict.fromkeys([name], next(v for v in column if not _is_number(v))))
            raise
        col[~np.isfinite(col)] = math.nan
        columns[name] = col
    for a, b in zip(times, times[1:], strict=False):
        if b <= a:
            raise ValidationError(f"timestamp {b.isoformat()} is not after {a.isoformat()}", field="timestamp")
    return times, columns
