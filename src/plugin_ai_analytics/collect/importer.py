"""Bulk import of metric history from CSV or Parquet, with a column → metric mapping."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..domain import METRIC_NAMES
from ..errors import ValidationError

__all__ = ["parse_mapping", "read_history", "read_metric_table", "read_series"]


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


def _read_frame(path: Path) -> Any:
    """The file as a frame (CSV or Parquet by suffix); an unreadable or empty file names itself."""
    import pandas as pd  # start-up cost: pandas loads only for an import

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".txt", ".gz"):
            frame = pd.read_csv(path)
        else:
            raise ValidationError(f"{path.name}: unsupported file type {suffix!r} (CSV or Parquet)", field="path")
    except pd.errors.EmptyDataError:
        raise ValidationError(f"{path.name}: the file is empty (expected a header and rows)", field="path") from None
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}", field="path") from None
    if frame.empty:
        raise ValidationError(f"{path.name}: no data rows under the header", field="path")
    return frame


def _require_timestamp(frame: Any, column: str, path: Path) -> None:
    if column not in frame.columns:
        raise ValidationError(
            f"{path.name}: no column {column!r} (columns: {', '.join(map(str, frame.columns))})",
            field="timestamp_column",
        )


def _numbers(frame: Any, column: str, path: Path) -> Any:
    """The column as floats; text that is not a number is an error naming the row, never a silent gap."""
    import pandas as pd  # start-up cost: pandas loads only for an import

    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna() & (frame[column].astype(str).str.strip() != "")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise ValidationError(
            f"{path.name}: column {column!r}, row {row + 1}: {frame[column].iloc[row]!r} is not a number",
            field=str(column),
        )
    return values


def read_metric_table(path: Path, timestamp_column: str = "timestamp") -> Any:
    """A timestamp column and one or more numeric columns, checked (``detect`` reads this)."""
    frame = _read_frame(path)
    _require_timestamp(frame, timestamp_column, path)
    others = [c for c in frame.columns if c != timestamp_column]
    if not others:
        raise ValidationError(f"{path.name}: no value column next to {timestamp_column!r}", field="columns")
    for column in others:
        frame[column] = _numbers(frame, column, path)
    return frame


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

    frame = _read_frame(path)
    _require_timestamp(frame, timestamp_column, path)
    for column in mapping:
        if column not in frame.columns:
            raise ValidationError(f"{path.name}: mapped column {column!r} does not exist", field="map")
    renamed = {c: m for c, m in mapping.items()}
    chosen = {c: renamed.get(c, c) for c in frame.columns if c in renamed or c in METRIC_NAMES}
    if not chosen:
        raise ValidationError(f"{path.name}: no column maps to a metric; use --map COLUMN=metric", field="map")
    out = frame[[timestamp_column, *chosen]].rename(columns={timestamp_column: "timestamp", **chosen})
    for column in chosen.values():
        out[column] = _numbers(out, column, path)
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

    frame = _read_frame(path)
    _require_timestamp(frame, timestamp_column, path)
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
    values = _numbers(frame, value_column, path)
    return pd.Series(values.to_numpy(dtype=float), index=index, name=str(value_column)).sort_index()
