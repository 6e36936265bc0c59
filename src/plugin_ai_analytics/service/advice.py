"""Optimisation advice for the service: run the advice engine on a plugin's own history and
keep each finding as one suggestion record, updated in place when it is found again."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..logs import log_event
from ..schemas import AdviceRun, SkippedAnalysis, Suggestion, SuggestionHistory, SuggestionReport
from ..store import PluginRecords, SuggestionRecords
from ..times import ms_to_iso, now_ms
from .history import History

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Advice", "public_suggestion"]


class Advice:
    def __init__(self, *, history: History, suggestions: SuggestionRecords, plugins: PluginRecords) -> None:
        self._history = history
        self._suggestions = suggestions
        self._plugins = plugins

    def suggest(self, plugin_id: str, frame: pd.DataFrame | None = None) -> SuggestionReport:
        """Analyse the plugin's own history (``frame``: ``History.frame`` read already by the
        caller); every suggestion carries its evidence and numbers.

        A finding already on record is updated in place, so history never repeats itself.
        """
        from ..advise import PluginContext, analyse_with_report  # start-up cost: the engines load on first use

        plugin = self._plugins.require(plugin_id)
        if frame is None:
            frame = self._history.frame(plugin_id)
        # CPU advice needs the plugin's own allocation; the host's core count is not it.
        context = PluginContext(
            memory_limit_mb=plugin["memory_limit_mb"], cpu_limit_percent=plugin["cpu_limit_percent"]
        )
        report = analyse_with_report(frame, context)
        rows = [_suggestion_row(s.to_dict()) for s in report.suggestions]
        self._suggestions.upsert(plugin_id, rows)
        self._suggestions.record_run(
            plugin_id,
            {
                "at": now_ms(),
                "analysed_from": int(frame.index[0].value // 10**6) if len(frame) else None,
                "analysed_to": int(frame.index[-1].value // 10**6) if len(frame) else None,
                "found": len(rows),
                "not_analysed": [note.to_dict() for note in report.skipped],
                "clear": [note.to_dict() for note in report.clear],
            },
        )
        current = self.records(plugin_id, findings=[r["finding"] for r in rows]) if rows else []
        log_event(logging.INFO, "optimization_suggestions", f"{len(rows)} suggestions", plugin=plugin_id)
        return SuggestionReport(
            plugin_id=plugin_id,
            analysed_from=frame.index[0].isoformat() if len(frame) else None,
            analysed_to=frame.index[-1].isoformat() if len(frame) else None,
            suggestions=current,
            not_analysed=[SkippedAnalysis(**note.to_dict()) for note in report.skipped],
        )

    def records(self, plugin_id: str, **filters: Any) -> list[Suggestion]:
        """Suggestions on record (see ``SuggestionRecords.find`` for the filters)."""
        return [public_suggestion(r) for r in self._suggestions.find(plugin_id, **filters)]

    def history(
        self,
        plugin_id: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> SuggestionHistory:
        self._plugins.require(plugin_id)
        records = self.records(plugin_id, start_ms=start_ms, end_ms=end_ms, limit=limit, offset=offset)
        return SuggestionHistory(
            plugin_id=plugin_id,
            count=len(records),
            suggestions=records,
            next_offset=offset + len(records) if len(records) == limit else None,
            last_analysis=self.last_run(plugin_id),
        )

    def last_run(self, plugin_id: str) -> AdviceRun | None:
        run = self._suggestions.last_run(plugin_id)
        if run is None:
            return None
        return AdviceRun(
            at=ms_to_iso(run["at"]),
            analysed_from=ms_to_iso(run["analysed_from"]),
            analysed_to=ms_to_iso(run["analysed_to"]),
            found=run["found"],
            not_analysed=run["not_analysed"],
            found_nothing=run["clear"],
        )


def _suggestion_row(suggestion: dict[str, Any]) -> dict[str, Any]:
    evidence = dict(suggestion.get("evidence") or {})
    if suggestion.get("model"):
        evidence.setdefault("model", suggestion["model"])
    return {
        "finding": suggestion["finding"],
        "title": suggestion["title"],
        "evidence": evidence,
        "expected_effect": suggestion.get("expected_effect") or [],
        "steps": suggestion.get("steps") or [],
        "priority": suggestion["priority"],
    }


def public_suggestion(row: dict[str, Any]) -> Suggestion:
    """A stored suggestion as clients see it."""
    return Suggestion(
        suggestion_id=row["id"],
        finding=row["finding"],
        title=row["title"],
        priority=row["priority"],
        evidence=row["evidence"],
        expected_effect=row["expected_effect"],
        steps=row["steps"],
        created_at=ms_to_iso(row["created_at"]),
        updated_at=ms_to_iso(row["updated_at"]),
    )
