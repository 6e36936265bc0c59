"""Bulk import of metric history from CSV or Parquet, with a column → metric mapping."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..domain import METRIC_NAMES
from ..errors import ValidationError

__all__ = ["parse_mapping", "read_history"]


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["value=cpu_percent", ...]`` → ``{"value": "cpu_percent"}``; metric names are checked."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, metric = pair.partition("=")
        if not sep or not column or not metric:
            raise ValidationError(f"mapping {pair!r} is not COLUMN=metric", field="map")
        if metric not in METRIC_NAMES:
            raise ValidationError(
                f"mapping {pair!r}: unknown metric {metric!r}; known: {', '.join(METRIC_NAMES)}", field="map"
            )
        mapping[column] = metric
    return mapping


def read_history(
    path: Path,
    timestamp_column: str,
    mapping: dict[str, str],
    *,
    shift_to_now: bool = False,
    now: Any = None,
) -> Any:
    """A frame with a UTC ``timestamp`` column and metric columns, sorted by time."""
    import pandas as pd  # start-up cost: pandas loads only for an import

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".txt", ".gz"):
            frame = pd.read_csv(path)
        else:
            raise ValidationError(f"{path.name}: unsupported file type {suffix!r} (CSV or Parquet)", field="path")
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}", field="path") from None
    if timestamp_column not in frame.columns:
        raise ValidationError(
            f"{path.name}: no column {timestamp_column!r} (columns: {', '.join(map(str, frame.columns))})",
            field="timestamp_column",
        )
    for column in mapping:
        if column not in frame.columns:
            raise ValidationError(f"{path.name}: mapped column {column!r} does not exist", field="map")
    renamed = {c: m for c, m in mapping.items()}
    chosen = {c: renamed.get(c, c) for c in frame.columns if c in renamed or c in METRIC_NAMES}
    if not chosen:
        raise ValidationError(f"{path.name}: no column maps to a metric; use --map COLUMN=metric", field="map")
    out = frame[[timestamp_column, *chosen]].rename(columns={timestamp_column: "timestamp", **chosen})
    try:
        out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{path.name}: timestamps cannot be parsed: {exc}", field="timestamp_column") from None
    out = out.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if shift_to_now and len(out):
        target = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
        # Whole steps only, so a 5-minute series stays on round 5-minute marks.
        out["timestamp"] = out["timestamp"] + (target - out["timestamp"].iloc[-1]).floor("min")
    return out


def read_series(path: Path, timestamp_column: str = "timestamp", value_column: str | None = None) -> Any:
    """One numeric column of a CSV/Parquet file as a Series on a UTC DatetimeIndex.

    Without ``value_column`` the file must hold exactly one column besides the timestamp.
    """
    import pandas as pd  # start-up cost: pandas loads only for an import

    suffix = path.suffix.lower()
    try:
        frame = pd.read_parquet(path) if suffix in (".parquet", ".pq") else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}", field="path") from None
    if timestamp_column not in frame.columns:
        raise ValidationError(
            f"{path.name}: no column {timestamp_column!r} (columns: {', '.join(map(str, frame.columns))})",
            field="timestamp_column",
        )
    others = [c for c in frame.columns if c != timestamp_column]
    if value_column is None:
        if len(others) != 1:
            raise ValidationError(
                f"{path.name}: {len(others)} value columns ({', '.join(map(str, others))}); "
                "choose one with --value-column",
                field="value_column",
            )
        value_column = others[0]
    elif value_column not in frame.columns:
        raise ValidationError(f"{path.name}: no column {value_column!r}", field="value_column")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(frame[timestamp_column], utc=True))
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{path.name}: timestamps cannot be parsed: {exc}", field="timestamp_column") from None
    values = pd.to_numeric(frame[value_column], errors="coerce")
    return pd.Series(values.to_numpy(dtype=float), index=index, name=str(value_column)).sort_index()
