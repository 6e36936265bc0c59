"""Stream a frame of one plugin's samples through the production detector, row by row.

This is the engine of ``plugin-ai-analytics detect INPUT.csv --output OUT.csv`` and of the NAB
benchmark: exactly ``PluginDetector``, one ``update`` per row, in time order.
"""

from __future__ import annotations

import math

import pandas as pd

from ..errors import ValidationError
from .plugin import PluginDetector

__all__ = ["OUTPUT_COLUMNS", "detect_frame"]

OUTPUT_COLUMNS = ["timestamp", "value", "anomaly_score", "alert", "severity"]


def _timestamp_column(df: pd.DataFrame) -> str:
    if "timestamp" in df.columns:
        return "timestamp"
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            return str(col)
    raise ValidationError("no timestamp column: name one 'timestamp'", field="timestamp")


def detect_frame(df: pd.DataFrame, sensitivity: float = 0.1) -> pd.DataFrame:
    """Score every row of ``df`` (a timestamp column and one or more metric columns) causally.

    Returns ``timestamp, value, anomaly_score, alert, severity``: ``value`` is the first metric
    column, ``anomaly_score`` the verdict's incident score (the sample's score unless an incident
    is already open or cooling down), ``alert`` 1 on the row where a new event opens, and
    ``severity`` the open event's severity ("" outside events). Rows come back in time order;
    a row repeating the previous timestamp is treated as a re-send (not learnt, never alerts).
    """
    ts_col = _timestamp_column(df)
    metrics = [c for c in df.columns if c != ts_col]
    if not metrics:
        raise ValidationError("no metric column next to the timestamp", field="columns")
    times = pd.to_datetime(df[ts_col], utc=True, errors="coerce")
    if times.isna().any():
        bad = df[ts_col][times.isna()].iloc[0]
        raise ValidationError(f"unparseable timestamp {bad!r}", field=ts_col)
    order = times.argsort(kind="stable").to_numpy()
    values = df[metrics].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)

    detector = PluginDetector(sensitivity)
    rows: list[tuple] = []
    previous = None
    for i in order:
        if previous is not None and times.iloc[i] == previous:
            # A repeated timestamp is a re-send of the same instant (the service deduplicates
            # these): it is not learnt and cannot alert again; it keeps the event's severity.
            rows.append((df[ts_col].iloc[i], values[i][0], 0.0, 0, rows[-1][4]))
            continue
        previous = times.iloc[i]
        row = zip(metrics, values[i], strict=True)
        sample = {str(m): (None if math.isnan(v) else float(v)) for m, v in row}
        verdict = detector.update(times.iloc[i].to_pydatetime(), sample)
        rows.append(
            (
                df[ts_col].iloc[i],
                values[i][0],
                verdict.incident_score,
                int(verdict.alert),
                verdict.event.severity.value if verdict.event is not None and verdict.event.is_open else "",
            )
        )
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
