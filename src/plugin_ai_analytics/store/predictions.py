"""Stored forecasts: each point kept until its target time has passed and the actual value
scored it, and the aggregates the accuracy tracker and the health overview read from them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, bindparam, case, delete, func, select, update

from ..domain import FORECAST_POINT_FIELDS
from ..times import DAY_MS, now_ms
from . import tables as t
from .database import placeholder

__all__ = ["PREDICTION_COLUMNS", "PredictionRecords"]

# A stored forecast point, in the order ``replace`` takes its tuples.
PREDICTION_COLUMNS: tuple[str, ...] = ("metric", "target_ts", *FORECAST_POINT_FIELDS, "model_id")


class PredictionRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def replace(self, plugin_id: str, made_at: int, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store a fresh forecast (``PREDICTION_COLUMNS`` tuples); future targets of older forecasts
        are superseded (deleted), while past ones stay to be scored against actuals."""
        p = t.predictions.c
        columns = ("plugin_id", "made_at", *PREDICTION_COLUMNS)
        mark = placeholder(self._engine)
        sql = f"INSERT INTO predictions ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
        with self._engine.begin() as conn:
            conn.execute(
                delete(t.predictions).where(p.plugin_id == plugin_id, p.target_ts > made_at, p.actual.is_(None))
            )
            if rows:
                conn.exec_driver_sql(sql, [(plugin_id, made_at, *row) for row in rows])

    def latest(self, plugin_id: str) -> list[dict[str, Any]]:
        """Every point of the plugin's newest forecast, by metric and target time."""
        p = t.predictions.c
        with self._engine.connect() as conn:
            made = conn.execute(select(func.max(p.made_at)).where(p.plugin_id == plugin_id)).scalar_one()
            if made is None:
                return []
            q = select(t.predictions).where(p.plugin_id == plugin_id, p.made_at == made).order_by(p.metric, p.target_ts)
            return [dict(r) for r in conn.execute(q).mappings()]

    def unscored(self, before_ms: int, limit: int = 5000) -> list[dict[str, Any]]:
        """Points whose target time has passed and that no actual has scored yet, oldest first,
        with the forecast and the bounds they were served with (the interval correction reads them)."""
        p = t.predictions.c
        q = (
            select(p.id, p.plugin_id, p.metric, p.target_ts, p.value, p.lower_80, p.upper_80, p.lower_95, p.upper_95)
            .where(p.actual.is_(None), p.target_ts <= before_ms)
            .order_by(p.target_ts)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def score(self, scored: Sequence[tuple[int, float]]) -> None:
        """Attach the actual value to each ``(prediction id, actual)``."""
        now = now_ms()
        with self._engine.begin() as conn:
            conn.execute(
                update(t.predictions)
                .where(t.predictions.c.id == bindparam("pid"))
                .values(actual=bindparam("actual"), scored_at=now),
                [{"pid": pid, "actual": actual} for pid, actual in scored],
            )

    def scored(self, plugin_id: str, since_ms: int) -> list[dict[str, Any]]:
        """Scored points of a plugin whose target time is at or after ``since_ms``."""
        p = t.predictions.c
        q = (
            select(p.metric, p.made_at, p.target_ts, p.value, p.actual, p.lower_80, p.upper_80, p.lower_95, p.upper_95)
            .where(p.plugin_id == plugin_id, p.actual.is_not(None), p.target_ts >= since_ms)
            .order_by(p.target_ts)
        )
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- aggregates over every plugin at once (the health overview reads a handful of these) ---

    def error_totals(self, since_ms: int, plugin_id: str | None = None) -> dict[str, dict[str, dict[str, float]]]:
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
        with self._engine.connect() as conn:
            for pid, metric, abs_error, abs_actual, n in conn.execute(q):
                out.setdefault(pid, {})[metric] = {
                    "abs_error": float(abs_error or 0.0),
                    "abs_actual": float(abs_actual or 0.0),
                    "scored": int(n),
                }
        return out

    def coverage_totals(self, since_ms: int) -> dict[str, dict[str, dict[str, int]]]:
        """Per plugin and metric: how many scored predictions (target at or after ``since_ms``) had
        the actual inside their 80 % interval, of how many (alerting: intervals that stopped covering)."""
        p = t.predictions.c
        inside = func.sum(case((and_(p.lower_80 <= p.actual, p.actual <= p.upper_80), 1), else_=0))
        q = (
            select(p.plugin_id, p.metric, inside, func.count())
            .where(p.actual.is_not(None), p.target_ts >= since_ms)
            .group_by(p.plugin_id, p.metric)
        )
        out: dict[str, dict[str, dict[str, int]]] = {}
        with self._engine.connect() as conn:
            for pid, metric, hits, n in conn.execute(q):
                out.setdefault(pid, {})[metric] = {"inside_80": int(hits or 0), "scored": int(n)}
        return out

    def points_at(self, at_ms: int, within_ms: int, made_after_ms: int) -> dict[tuple[str, str], dict[str, Any]]:
        """Per plugin and metric, the current forecast's first point at or after ``at_ms`` (and
        before ``at_ms + within_ms``): what each plugin is forecast to be at that time."""
        p = t.predictions.c
        q = (
            select(p.plugin_id, p.metric, p.target_ts, p.value, p.lower_95, p.upper_95)
            .where(p.target_ts >= at_ms, p.target_ts < at_ms + within_ms, p.made_at > made_after_ms)
            .order_by(p.plugin_id, p.metric, p.target_ts)
        )
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(q).mappings():
                out.setdefault((row["plugin_id"], row["metric"]), dict(row))
        return out

    def daily_error_totals(self, plugin_id: str, since_ms: int) -> dict[str, list[dict[str, Any]]]:
        """``error_totals`` of one plugin per metric and UTC day of the target time."""
        p = t.predictions.c
        day = (p.target_ts // DAY_MS) * DAY_MS
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
        with self._engine.connect() as conn:
            for metric, day_ms, abs_error, abs_actual, n in conn.execute(q):
                out.setdefault(metric, []).append(
                    {
                        "day_ts": int(day_ms),
                        "abs_error": float(abs_error or 0.0),
                        "abs_actual": float(abs_actual or 0.0),
                        "scored": int(n),
                    }
                )
        return out

    def forecast_extremes(
        self, now_ms: int, horizon_ms: int, plugin_id: str | None = None
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
        with self._engine.connect() as conn:
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

    def version(self) -> int:
        """Changes whenever a forecast is stored (ids only grow): a cheap cache key."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(t.predictions.c.id))).scalar_one() or 0)

    def first_crossing(self, plugin_id: str, metric: str, column: str, limit: float, now_ms: int) -> int | None:
        """The first target time ahead at which the forecast's ``column`` reaches ``limit``."""
        p = t.predictions.c
        q = select(func.min(p.target_ts)).where(
            p.plugin_id == plugin_id, p.metric == metric, p.target_ts > now_ms, t.predictions.c[column] >= limit
        )
        with self._engine.connect() as conn:
            found = conn.execute(q).scalar_one()
        return None if found is None else int(found)
