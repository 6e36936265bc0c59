"""Export of a plugin's records — metrics, predictions, anomalies, suggestions — over a time range
as JSON, CSV or Parquet, streamed chunk by chunk so a large export never sits in memory whole.

Epoch-millisecond columns become ISO-8601 strings (JSON, CSV) or UTC timestamps (Parquet);
nested JSON fields become JSON text in CSV and Parquet.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from ..errors import ValidationError
from ..store import Store
from ..store import tables as t

__all__ = ["EXPORT_KINDS", "EXPORT_FORMATS", "export_stream"]

# kind → (table, time column used for the range, columns left out)
EXPORT_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "metrics": ("metrics", "ts", ("plugin_id",)),
    "predictions": ("predictions", "target_ts", ("id", "plugin_id")),
    "anomalies": ("anomalies", "start_ts", ("id", "plugin_id")),
    "suggestions": ("suggestions", "updated_at", ("id", "plugin_id")),
}
EXPORT_FORMATS = ("json", "csv", "parquet")
_TIME_COLUMNS = {"ts", "made_at", "target_ts", "start_ts", "end_ts", "created_at", "updated_at", "scored_at", "at"}


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _chunks(store: Store, kind: str, plugin_id: str, start_ms: int | None, end_ms: int | None) -> Iterator[list[dict]]:
    table, time_column, dropped = EXPORT_KINDS[kind]
    if kind == "metrics":
        source = store.iter_metrics(plugin_id, start_ms=start_ms, end_ms=end_ms, chunk=5000)
    else:
        source = store.iter_table(table, plugin_id, time_column, start_ms, end_ms)
    for rows in source:
        yield [{k: v for k, v in r.items() if k not in dropped} for r in rows]


def _columns(kind: str) -> list[str]:
    table, _, dropped = EXPORT_KINDS[kind]
    return [c.name for c in t.metadata.tables[table].columns if c.name not in dropped]


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k in _TIME_COLUMNS:
            out["timestamp" if k == "ts" else k] = _iso(v)
        elif isinstance(v, dict | list):
            out[k] = orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()
        else:
            out[k] = v
    return out


def export_stream(
    store: Store, plugin_id: str, kinds: list[str], fmt: str, start_ms: int | None, end_ms: int | None
) -> tuple[str, Iterator[bytes]]:
    """``(media type, byte chunks)`` of the export; JSON may hold several kinds, CSV and Parquet one."""
    for kind in kinds:
        if kind not in EXPORT_KINDS:
            raise ValidationError(f"unknown record kind {kind!r}; known: {', '.join(EXPORT_KINDS)}", field="kind")
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format")
    if fmt != "json" and len(kinds) != 1:
        raise ValidationError(f"{fmt} exports one record kind at a time; choose kind=", field="kind")
    if fmt == "json":
        return "application/json", _json(store, plugin_id, kinds, start_ms, end_ms)
    if fmt == "csv":
        return "text/csv", _csv(store, plugin_id, kinds[0], start_ms, end_ms)
    return "application/vnd.apache.parquet", _parquet(store, plugin_id, kinds[0], start_ms, end_ms)


def _json(store: Store, plugin_id: str, kinds: list[str], start_ms: int | None, end_ms: int | None) -> Iterator[bytes]:
    head = {"plugin_id": plugin_id, "from": _iso(start_ms), "to": _iso(end_ms)}
    yield orjson.dumps(head, option=orjson.OPT_NON_STR_KEYS)[:-1]
    for kind in kinds:
        yield f',"{kind}":['.encode()
        first = True
        for rows in _chunks(store, kind, plugin_id, start_ms, end_ms):
            parts = []
            for row in rows:
                out = {
                    ("timestamp" if k == "ts" else k): (_iso(v) if k in _TIME_COLUMNS else v) for k, v in row.items()
                }
                parts.append(orjson.dumps(out, option=orjson.OPT_NON_STR_KEYS))
            if parts:
                yield (b"" if first else b",") + b",".join(parts)
                first = False
        yield b"]"
    yield b"}"


def _csv(store: Store, plugin_id: str, kind: str, start_ms: int | None, end_ms: int | None) -> Iterator[bytes]:
    columns = ["timestamp" if c == "ts" else c for c in _columns(kind)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    yield buffer.getvalue().encode()
    for rows in _chunks(store, kind, plugin_id, start_ms, end_ms):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_flat(r) for r in rows)
        yield buffer.getvalue().encode()


def _parquet(store: Store, plugin_id: str, kind: str, start_ms: int | None, end_ms: int | None) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer

    table = t.metadata.tables[EXPORT_KINDS[kind][0]]
    fields = []
    for name in _columns(kind):
        col_type = table.c[name].type
        if name in _TIME_COLUMNS:
            arrow = pa.timestamp("ms", tz="UTC")
        elif isinstance(col_type, Boolean):
            arrow = pa.bool_()
        elif isinstance(col_type, BigInteger | Integer):
            arrow = pa.int64()
        elif isinstance(col_type, Float):
            arrow = pa.float64()
        elif isinstance(col_type, JSON):
            arrow = pa.string()
        else:
            arrow = pa.string()
        fields.append(pa.field("timestamp" if name == "ts" else name, arrow))
    schema = pa.schema(fields)
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    # Parquet's footer is written last, so the file is built on disk (constant memory) and then streamed.
    fd, path = tempfile.mkstemp(suffix=".parquet")
    os.close(fd)
    try:
        with pq.ParquetWriter(path, schema) as writer:
            for rows in _chunks(store, kind, plugin_id, start_ms, end_ms):
                data = {f.name: [] for f in schema}
                for r in rows:
                    for k, v in r.items():
                        if k in json_cols and v is not None:
                            v = orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()
                        data["timestamp" if k == "ts" else k].append(v)
                writer.write_table(pa.table(data, schema=schema))
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                yield block
    finally:
        os.unlink(path)
