"""The entry point of the advice engine: run every analysis on one plugin's history and collect
its suggestions, and the reasons the others produced none.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from . import capacity, cpu, error_rate, leak, peaks
from ._records import Note, PluginContext, Report, Suggestion

Analysis = Callable[[pd.DataFrame, PluginContext], Report]

# Order is the order of the report: user-facing harm first, savings last.
ANALYSES: tuple[tuple[str, Analysis], ...] = (
    ("leak", leak.analyse),
    ("capacity", capacity.analyse),
    ("errors", error_rate.analyse),
    ("cpu", cpu.analyse),
    ("peaks", peaks.analyse),
)
_PRIORITY_ORDER = {"High": 0, "Medium": 1, "Low": 2}


def analyse_with_report(history: pd.DataFrame, context: PluginContext | None = None) -> Report:
    """Every analysis on ``history`` (one plugin, UTC DatetimeIndex, metric columns, NaN = missing).

    Suggestions come sorted by priority; ``skipped`` says which analyses could not run and why,
    ``clear`` which ran and found nothing significant.
    """
    context = context or PluginContext()
    report = Report()
    if not isinstance(history, pd.DataFrame) or history.empty:
        report.skipped.append(Note("all", "no history"))
        return report
    for _, run in ANALYSES:
        report.extend(run(history, context))
    report.suggestions.sort(key=lambda s: _PRIORITY_ORDER[s.priority.value])
    return report


def analyse(history: pd.DataFrame, context: PluginContext | None = None) -> list[Suggestion]:
    """The suggestions for one plugin; empty for a healthy plugin or a history too short to judge."""
    return analyse_with_report(history, context).suggestions
