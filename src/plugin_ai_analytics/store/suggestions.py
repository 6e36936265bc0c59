"""Optimisation suggestions: one row per finding of a plugin, updated in place when it is found
again (created_at kept), so history never repeats itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, select

from ..times import now_ms
from . import tables as t
from .database import upsert

__all__ = ["SuggestionRecords"]

_RUN_COLUMNS = ["at", "analysed_from", "analysed_to", "found", "not_analysed", "clear"]


class SuggestionRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upsert(self, plugin_id: str, suggestions: Sequence[dict[str, Any]]) -> None:
        if not suggestions:
            return
        now = now_ms()
        rows = [{"plugin_id": plugin_id, "created_at": now, "updated_at": now, **s} for s in suggestions]
        cols = ["title", "evidence", "expected_effect", "steps", "priority", "updated_at"]
        with self._engine.begin() as conn:
            conn.execute(upsert(conn, t.suggestions, ["plugin_id", "finding"], cols, merge=False), rows)

    def record_run(self, plugin_id: str, run: dict[str, Any]) -> None:
        """Keep what the newest analysis of the plugin found (``_RUN_COLUMNS``), replacing the last."""
        with self._engine.begin() as conn:
            conn.execute(
                upsert(conn, t.advice_runs, ["plugin_id"], _RUN_COLUMNS, merge=False), [{"plugin_id": plugin_id, **run}]
            )

    def last_run(self, plugin_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.advice_runs).where(t.advice_runs.c.plugin_id == plugin_id)).mappings().first()
        return dict(row) if row else None

    def find(
        self,
        plugin_id: str,
        *,
        findings: Sequence[str] | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Suggestions updated at or after ``start_ms`` and created before ``end_ms``, newest first."""
        sg = t.suggestions.c
        where = [sg.plugin_id == plugin_id]
        if findings is not None:
            where.append(sg.finding.in_(list(findings)))
        if start_ms is not None:
            where.append(sg.updated_at >= start_ms)
        if end_ms is not None:
            where.append(sg.created_at < end_ms)
        q = select(t.suggestions).where(and_(*where)).order_by(sg.updated_at.desc()).limit(limit).offset(offset)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def with_evidence(self, key: str, since_ms: int) -> list[dict[str, Any]]:
        """Suggestions of every plugin updated at or after ``since_ms`` whose evidence has ``key``
        (alerting: findings that carry a time to impact, ``time_to_limit_h``)."""
        sg = t.suggestions.c
        q = select(t.suggestions).where(sg.updated_at >= since_ms).order_by(sg.plugin_id, sg.finding)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings() if key in (r["evidence"] or {})]
