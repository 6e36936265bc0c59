"""Optimisation advice: each suggestion with its evidence, the expected effect as numbers with
units from a fitted model, and the steps to carry it out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import Record

__all__ = ["AdviceRun", "Effect", "SkippedAnalysis", "Suggestion", "SuggestionHistory", "SuggestionReport"]


class Effect(Record):
    """One expected change: ``change`` in ``unit`` of ``metric`` under the condition ``at``."""

    metric: str
    change: float
    unit: str
    at: str
    explanation: str


class Suggestion(Record):
    suggestion_id: int
    finding: str = Field(description="what was found, e.g. memory_leak; one record per finding, updated in place")
    title: str
    priority: Literal["High", "Medium", "Low"]
    evidence: dict[str, Any] = Field(description="every number the title and effects cite, with its unit")
    expected_effect: list[Effect]
    steps: list[str]
    created_at: str | None
    updated_at: str | None


class SkippedAnalysis(Record):
    """An analysis that could not run, and why (too little data, a metric absent, a limit unknown)."""

    analysis: str
    reason: str


class AdviceRun(Record):
    """The newest analysis of a plugin: when, over which data, and why it found what it found."""

    at: str
    analysed_from: str | None
    analysed_to: str | None
    found: int = Field(description="suggestions it produced")
    not_analysed: list[SkippedAnalysis] = Field(description="analyses that could not run, and why")
    found_nothing: list[SkippedAnalysis] = Field(description="analyses that ran and found nothing significant")


class SuggestionReport(Record):
    plugin_id: str
    analysed_from: str | None
    analysed_to: str | None
    suggestions: list[Suggestion]
    not_analysed: list[SkippedAnalysis]


class SuggestionHistory(Record):
    plugin_id: str
    count: int
    suggestions: list[Suggestion]
    next_offset: int | None
    last_analysis: AdviceRun | None = Field(description="the newest analysis (why there is nothing, when there is not)")
