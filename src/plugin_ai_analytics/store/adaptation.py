"""The online interval correction of each plugin and metric (``interval_adaptation``): read
before a forecast is made, written after its predictions are scored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select

from ..times import now_ms
from . import tables as t
from .database import upsert

__all__ = ["IntervalAdaptations"]


class IntervalAdaptations:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def of_plugin(self, plugin_id: str) -> dict[str, dict[str, Any]]:
        """Per metric: ``scale_80``, ``scale_95``, ``scored``, ``last_target_ts``, ``updated_at``."""
        a = t.interval_adaptation.c
        q = select(t.interval_adaptation).where(a.plugin_id == plugin_id)
        with self._engine.connect() as conn:
            return {r["metric"]: dict(r) for r in conn.execute(q).mappings()}

    def save(self, plugin_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """Store each metric's row (``metric``, ``scale_80``, ``scale_95``, ``scored``,
        ``last_target_ts``), replacing what was there."""
        if not rows:
            return
        now = now_ms()
        cols = ["scale_80", "scale_95", "scored", "last_target_ts", "updated_at"]
        values = [
            {**{k: r[k] for k in ("metric", *cols[:-1])}, "plugin_id": plugin_id, "updated_at": now} for r in rows
        ]
        with self._engine.begin() as conn:
            conn.execute(upsert(conn, t.interval_adaptation, ["plugin_id", "metric"], cols, merge=False), values)
