"""Aggregate queries behind the dashboard's overview: one query per concern for all plugins at
once (anomaly counts, tracked accuracy, the current forecast's extremes), so the overview of
hundreds of plugins costs a handful of queries, not hundreds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, select

from . import tables as t
from .repository import Store

__all__ = [
    "anomalies_started_since",
    "tracked_accuracy",
    "forecast_extremes",
    "predictions_version",
    "first_crossing",
    "daily_accuracy",
]


def anomalies_started_since(store: Store, since_ms: int, plugin_id: str | None = None) -> dict[str, dict[str, int]]:
    """Events (any state) started at or after ``since_ms``, per plugin and severity."""
    a = t.anomalies.c
    q = select(a.plugin_id, a.severity, func.count()).where(a.start_ts >= since_ms)
    if plugin_id is not None:
        q = q.where(a.plugin_id == plugin_id)
    q = q.group_by(a.plugin_id, a.severity)
    out: dict[str, dict[str, int]] = {}
    with store.engine.connect() as conn:
        for pid, severity, n in conn.execute(q):
            out.setdefault(pid, {})[severity] = int(n)
    return out


def tracked_accuracy(
    store: Store, since_ms: int, plugin_id: str | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """Per plugin and metric: Σ|actual − forecast|, Σ|actual| and the count of predictions
    scored against actuals whose target time is at or after ``since_ms``."""
    p = t.predictions.c
    q = select(
        p.plugin_id,
        p.metric,
        func.sum(func.abs(p.actual - p.value)),
        func.sum(func.abs(p.actual)),
        func.count(),
    ).where(p.actual.is_not(None), p.target_ts >= since_ms)
    if plugin_id is not None:
        q = q.where(p.plugin_id == plugin_id)
    q = q.group_by(p.plugin_id, p.metric)
    out: dict[str, dict[str, dict[str, float]]] = {}
    with store.engine.connect() as conn:
        for pid, metric, abs_error, abs_actual, n in conn.execute(q):
            out.setdefault(pid, {})[metric] = {
                "abs_error": float(abs_error or 0.0),
                "abs_actual": float(abs_actual or 0.0),
                "scored": int(n),
            }
    return out


def forecast_extremes(
    store: Store, now_ms: int, horizon_ms: int, plugin_id: str | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """The current forecast of each plugin and metric, summarised: its highest point and bounds,
    and the mean forecast over the first and the last quarter of its horizon (still ahead).

    Only future targets are read: storing a forecast deletes the unscored future targets of the
    older ones, so every row still ahead belongs to the plugin's latest forecast. One pass, no
    join: this is the overview's most expensive query (a row per metric and 5-minute step).
    """
    p = t.predictions.c
    where = [p.target_ts > now_ms, p.made_at > now_ms - horizon_ms]  # the second is implied; it narrows
    if plugin_id is not None:
        where.append(p.plugin_id == plugin_id)
    quarter = horizon_ms // 4
    q = (
        select(
            p.plugin_id,
            p.metric,
            func.max(p.made_at),
            func.max(p.value),
            func.max(p.upper_80),
            func.max(p.upper_95),
            func.avg(case((p.target_ts <= p.made_at + quarter, p.value), else_=None)),
            func.avg(case((p.target_ts > p.made_at + 3 * quarter, p.value), else_=None)),
            func.min(p.target_ts),
            func.max(p.target_ts),
            func.count(),
        )
        .where(and_(*where))
        .group_by(p.plugin_id, p.metric)
    )
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        for pid, metric, made_at, peak, upper_80, upper_95, early, late, t0, t1, n in conn.execute(q):
            out.setdefault(pid, {})[metric] = {
                "made_at": int(made_at),
                "peak": float(peak),
                "upper_80": float(upper_80),
                "upper_95": float(upper_95),
                "early_mean": None if early is None else float(early),
                "late_mean": None if late is None else float(late),
                "from_ts": int(t0),
                "to_ts": int(t1),
                "points": int(n),
            }
    return out


def predictions_version(store: Store) -> int:
    """Changes whenever a forecast is stored (ids only grow): a cheap cache key."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.max(t.predictions.c.id))).scalar_one() or 0)


def first_crossing(store: Store, plugin_id: str, metric: str, column: str, limit: float, now_ms: int) -> int | None:
    """The first target time ahead at which the forecast's ``column`` reaches ``limit``."""
    p = t.predictions.c
    q = select(func.min(p.target_ts)).where(
        p.plugin_id == plugin_id, p.metric == metric, p.target_ts > now_ms, t.predictions.c[column] >= limit
    )
    with store.engine.connect() as conn:
        found = conn.execute(q).scalar_one()
    return None if found is None else int(found)


def daily_accuracy(store: Store, plugin_id: str, since_ms: int) -> dict[str, list[dict[str, Any]]]:
    """Tracked accuracy per metric and UTC day of the target time: 100 × (1 − WAPE)."""
    p = t.predictions.c
    day = (p.target_ts // 86_400_000) * 86_400_000
    q = (
        select(
            p.metric,
            day.label("day"),
            func.sum(func.abs(p.actual - p.value)),
            func.sum(func.abs(p.actual)),
            func.count(),
        )
        .where(p.plugin_id == plugin_id, p.actual.is_not(None), p.target_ts >= since_ms)
        .group_by(p.metric, day)
        .order_by(p.metric, day)
    )
    out: dict[str, list[dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        for metric, day_ms, abs_error, abs_actual, n in conn.execute(q):
            accuracy = None if not abs_actual else round(100 * (1 - float(abs_error) / float(abs_actual)), 2)
            out.setdefault(metric, []).append({"day_ts": int(day_ms), "accuracy_percent": accuracy, "scored": int(n)})
    return out
