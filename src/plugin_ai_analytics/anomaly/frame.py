"""Stream a frame of one plugin's samples through the production detector, row by row.

This is the engine of ``plugin-ai-analytics detect INPUT.csv --output OUT.csv`` and of the NAB
benchmark: exactly ``PluginDetector``, one ``update`` per row in time order (through
``update_many``, which gives the same verdicts to the bit for a fraction of the work).
"""

from __future__ import annotations

import pandas as pd

from ..errors import ValidationError
from .events import Verdict
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
    is already open or cooling down), ``alert`` 1 on the row where an event pages, and
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

    # A repeated timestamp is a re-send of the same instant (the service deduplicates these): it
    # is not learnt and cannot alert again; it keeps the event's severity.
    stamps = times.iloc[order]
    resend = (stamps == stamps.shift()).to_numpy()
    learnt = order[~resend]
    columns: dict[str, list[float]] = {}
    for j, m in enumerate(metrics):
        columns[str(m)] = values[learnt, j].tolist()
    scored: list[tuple[float, int, str]] = []

    def judged(verdict: Verdict) -> None:  # the event's severity as it stood at that row
        event = verdict.event
        severity = event.severity.value if event is not None and event.is_open else ""
        scored.append((verdict.incident_score, int(verdict.alert), severity))

    detector = PluginDetector(sensitivity)
    detector.update_many([t.to_pydatetime() for t in times.iloc[learnt]], columns, on_verdict=judged)
    rows: list[tuple] = []
    k = 0
    for i, again in zip(order, resend, strict=True):
        if again:
            rows.append((df[ts_col].iloc[i], values[i][0], 0.0, 0, rows[-1][4]))
        else:
            rows.append((df[ts_col].iloc[i], values[i][0], *scored[k]))
            k += 1
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
