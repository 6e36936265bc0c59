"""Reading a plugin's records of one kind for export: which columns (and of what type) a kind
has, and its rows over a time range streamed a chunk at a time in a stable order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from sqlalchemy import JSON, BigInteger, Boolean, Engine, Float, Integer

from . import tables as t
from ._shared import keyset_chunks
from .metrics import INTEGER_METRICS

__all__ = ["EXPORT_KINDS", "ColumnKind", "RecordExports"]

# kind → (table, time column used for the range, columns left out)
EXPORT_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "metrics": ("metrics", "ts", ("plugin_id",)),
    "predictions": ("predictions", "target_ts", ("id", "plugin_id")),
    "anomalies": ("anomalies", "start_ts", ("id", "plugin_id")),
    "suggestions": ("suggestions", "updated_at", ("id", "plugin_id")),
}
_TIME_COLUMNS = {"ts", "made_at", "target_ts", "start_ts", "end_ts", "created_at", "updated_at", "scored_at", "at"}

ColumnKind = Literal["time", "bool", "int", "float", "json", "text"]


class RecordExports:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @staticmethod
    def columns(kind: str) -> list[tuple[str, ColumnKind]]:
        """The exported columns of ``kind`` with what they hold (``time`` = epoch milliseconds)."""
        table_name, _, dropped = EXPORT_KINDS[kind]
        table = t.metadata.tables[table_name]
        out: list[tuple[str, ColumnKind]] = []
        for column in table.columns:
            if column.name in dropped:
                continue
            kind_of: ColumnKind
            if column.name in _TIME_COLUMNS:
                kind_of = "time"
            elif kind == "metrics" and column.name in INTEGER_METRICS:
                kind_of = "int"  # counts: whole numbers, whatever the column type
            elif isinstance(column.type, Boolean):
                kind_of = "bool"
            elif isinstance(column.type, BigInteger | Integer):
                kind_of = "int"
            elif isinstance(column.type, Float):
                kind_of = "float"
            elif isinstance(column.type, JSON):
                kind_of = "json"
            else:
                kind_of = "text"
            out.append((column.name, kind_of))
        return out

    def chunks(
        self, kind: str, plugin_id: str, start_ms: int | None, end_ms: int | None, chunk: int = 5000
    ) -> Iterator[list[tuple]]:
        """Rows of ``kind`` (tuples in ``columns(kind)`` order) whose time column is in ``[start, end)``."""
        table_name, time_column, _ = EXPORT_KINDS[kind]
        table = t.metadata.tables[table_name]
        names = [name for name, _ in self.columns(kind)]
        where = [table.c.plugin_id == plugin_id]
        if start_ms is not None:
            where.append(table.c[time_column] >= start_ms)
        if end_ms is not None:
            where.append(table.c[time_column] < end_ms)
        # metrics are keyed by their time, every other record table by its growing id
        key = table.c.ts if kind == "metrics" else table.c.id
        columns = [table.c[n] for n in names]
        if key.name not in names:
            columns.append(key)
        counts = [i for i, (name, _) in enumerate(self.columns(kind)) if kind == "metrics" and name in INTEGER_METRICS]
        for rows in keyset_chunks(self._engine, columns, key, where, chunk):
            rows = [r[: len(names)] for r in rows] if len(columns) > len(names) else rows
            if counts:
                rows = [_whole(r, counts) for r in rows]
            yield rows


def _whole(row: tuple, positions: list[int]) -> tuple:
    values = list(row)
    for i in positions:
        if values[i] is not None:
            values[i] = int(round(values[i]))
    return tuple(values)
