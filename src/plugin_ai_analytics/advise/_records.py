"""The records the advice engine speaks in: the plugin's context, a suggestion with its evidence
and expected effect, and the report of what was analysed, found, or skipped and why.

Plain dataclasses with ``to_dict()`` so the service can store them and the API can return them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Effect", "Note", "PluginContext", "Priority", "Report", "Suggestion", "quantity", "sig"]


class Priority(StrEnum):
    """How soon to act. High: users are (or will within days be) hurt; Medium: a real but slower
    harm, or a large saving; Low: an efficiency gain. Each analysis documents its thresholds."""

    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"


@dataclass(frozen=True, slots=True)
class PluginContext:
    """What the history alone cannot say: the plugin's resource allocation.

    ``cpu_limit_percent`` (in % of one core, like ``cpu_percent``) wins over ``cpu_cores``;
    with neither, CPU right-sizing and saturation are skipped rather than guessed.
    """

    memory_limit_mb: float | None = None
    cpu_cores: int | None = None
    cpu_limit_percent: float | None = None

    @property
    def cpu_allocation_percent(self) -> float | None:
        if self.cpu_limit_percent is not None and self.cpu_limit_percent > 0:
            return float(self.cpu_limit_percent)
        if self.cpu_cores is not None and self.cpu_cores > 0:
            return 100.0 * self.cpu_cores
        return None


@dataclass(frozen=True, slots=True)
class Effect:
    """One expected change, computed from the fitted model: ``change`` in ``unit`` of ``metric``
    under the condition ``at`` (e.g. -35 % of response_time_p95_ms at current peak load)."""

    metric: str
    change: float
    unit: str
    at: str
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "change": self.change,
            "unit": self.unit,
            "at": self.at,
            "explanation": self.explanation,
        }


@dataclass(slots=True)
class Suggestion:
    """One quantified optimisation. ``finding`` is the de-duplication key (the store updates the
    row of the same plugin and finding instead of adding one); every number in ``title`` and
    ``expected_effect`` is a field of ``evidence``."""

    finding: str
    title: str
    priority: Priority
    evidence: dict[str, Any]
    expected_effect: list[Effect]
    steps: list[str]
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "title": self.title,
            "priority": self.priority.value,
            "evidence": self.evidence,
            "expected_effect": [e.to_dict() for e in self.expected_effect],
            "steps": list(self.steps),
            "model": self.model,
        }


@dataclass(frozen=True, slots=True)
class Note:
    """Why an analysis produced nothing: ``skipped`` (it could not run: too little data, metric
    absent, allocation unknown) or ``clear`` (it ran and found no significant evidence)."""

    analysis: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"analysis": self.analysis, "reason": self.reason}


@dataclass(slots=True)
class Report:
    """Everything one run of the analyses produced."""

    suggestions: list[Suggestion] = field(default_factory=list)
    skipped: list[Note] = field(default_factory=list)
    clear: list[Note] = field(default_factory=list)

    def extend(self, other: Report) -> None:
        self.suggestions.extend(other.suggestions)
        self.skipped.extend(other.skipped)
        self.clear.extend(other.clear)

    def to_dict(self) -> dict[str, Any]:
        return {
            "suggestions": [s.to_dict() for s in self.suggestions],
            "skipped": [n.to_dict() for n in self.skipped],
            "clear": [n.to_dict() for n in self.clear],
        }


def sig(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits: evidence and titles show the same number."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def quantity(value: float, unit: str, window: str | None = None) -> dict[str, Any]:
    """An evidence entry: a rounded number, its unit, and the data it comes from when that is not
    the analysis' whole window."""
    entry: dict[str, Any] = {"value": sig(value), "unit": unit}
    if window is not None:
        entry["window"] = window
    return entry
