"""Export of a plugin's records — metrics, predictions, anomalies, suggestions — over a time range
as JSON, CSV or Parquet, streamed chunk by chunk so a large export never sits in memory whole.

Epoch-millisecond columns become ISO-8601 strings (JSON, CSV) or UTC timestamps (Parquet);
nested JSON fields become JSON text in CSV and Parquet. The rows come from ``store.exports``.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from ..errors import ValidationError
from ..store import EXPORT_KINDS, RecordExports
from ..times import ms_to_iso

__all__ = ["EXPORT_KINDS", "EXPORT_FORMATS", "export_stream"]

EXPORT_FORMATS = ("json", "csv", "parquet")
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def _out_name(column: str) -> str:
    return "timestamp" if column == "ts" else column


def export_stream(
    records: RecordExports,
    plugin_id: str,
    kinds: list[str],
    fmt: str,
    start_ms: int | None,
    end_ms: int | None,
    *,
    about: dict[str, Any] | None = None,
    mask: Callable[[str], str] | None = None,
) -> tuple[str, Iterator[bytes]]:
    """``(media type, byte chunks)`` of the export; JSON may hold several kinds, CSV and Parquet one.
    JSON carries the plugin's registration (``about``: name, description) at its head; ``mask``
    rewrites every text written (personal data out of a default export)."""
    for kind in kinds:
        if kind not in EXPORT_KINDS:
            raise ValidationError(f"unknown record kind {kind!r}; known: {', '.join(EXPORT_KINDS)}", field="kind")
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format")
    if fmt != "json" and len(kinds) != 1:
        raise ValidationError(f"{fmt} exports one record kind at a time; choose kind=", field="kind")
    if fmt == "json":
        chunks = _json(records, plugin_id, kinds, start_ms, end_ms, about or {})
    elif fmt == "csv":
        chunks = _csv(records, plugin_id, kinds[0], start_ms, end_ms)
    else:
        chunks = _parquet(records, plugin_id, kinds[0], start_ms, end_ms, mask)
    if mask is not None and fmt != "parquet":
        chunks = (mask(chunk.decode("utf-8")).encode("utf-8") for chunk in chunks)
    return MEDIA_TYPES[fmt], chunks


def _json(
    records: RecordExports,
    plugin_id: str,
    kinds: list[str],
    start_ms: int | None,
    end_ms: int | None,
    about: dict[str, Any],
) -> Iterator[bytes]:
    head = {"plugin_id": plugin_id, **about, "from": ms_to_iso(start_ms), "to": ms_to_iso(end_ms)}
    yield orjson.dumps(head, option=orjson.OPT_NON_STR_KEYS)[:-1]
    for kind in kinds:
        columns = records.columns(kind)
        names = [_out_name(name) for name, _ in columns]
        times = [i for i, (_, what) in enumerate(columns) if what == "time"]
        yield f',"{kind}":['.encode()
        first = True
        for rows in records.chunks(kind, plugin_id, start_ms, end_ms):
            parts = []
            for row in rows:
                values = list(row)
                for i in times:
                    values[i] = ms_to_iso(values[i])
                parts.append(orjson.dumps(dict(zip(names, values, strict=True)), option=orjson.OPT_NON_STR_KEYS))
            if parts:
                yield (b"" if first else b",") + b",".join(parts)
                first = False
        yield b"]"
    yield b"}"


def _csv(
    records: RecordExports, plugin_id: str, kind: str, start_ms: int | None, end_ms: int | None
) -> Iterator[bytes]:
    columns = records.columns(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_out_name(name) for name, _ in columns])
    yield buffer.getvalue().encode()
    for rows in records.chunks(kind, plugin_id, start_ms, end_ms):
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            out = []
            for value, (_, what) in zip(row, columns, strict=True):
                if what == "time":
                    value = ms_to_iso(value)
                elif isinstance(value, dict | list):
                    value = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
                out.append("" if value is None else value)
            writer.writerow(out)
        yield buffer.getvalue().encode()


def _parquet(
    records: RecordExports,
    plugin_id: str,
    kind: str,
    start_ms: int | None,
    end_ms: int | None,
    mask: Callable[[str], str] | None,
) -> Iterator[bytes]:
    import pyarrow as pa  # start-up cost: only Parquet exports need pyarrow
    import pyarrow.parquet as pq

    arrow_types = {
        "time": pa.timestamp("ms", tz="UTC"),
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "json": pa.string(),
        "text": pa.string(),
    }
    columns = records.columns(kind)
    schema = pa.schema([pa.field(_out_name(name), arrow_types[what]) for name, what in columns])
    # Parquet's footer is written last, so the file is built on disk (constant memory) and then streamed.
    fd, path = tempfile.mkstemp(suffix=".parquet")
    os.close(fd)
    try:
        with pq.ParquetWriter(path, schema) as writer:
            for rows in records.chunks(kind, plugin_id, start_ms, end_ms):
                data: list[list] = [[] for _ in columns]
                for row in rows:
                    for i, (value, (_, what)) in enumerate(zip(row, columns, strict=True)):
                        if what == "json" and value is not None:
                            value = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
                        if mask is not None and isinstance(value, str):
                            value = mask(value)
                        data[i].append(value)
                writer.write_table(pa.table(data, schema=schema))
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                yield block
    finally:
        os.unlink(path)
