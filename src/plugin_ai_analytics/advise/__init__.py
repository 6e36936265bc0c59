"""Optimisation advice engine: one module per analysis (leak, capacity, errors, cpu, peaks), each
fitting a model to one plugin's history and turning a significant finding into a quantified suggestion.

Pure: a history frame and a context in, suggestions out; no database, HTTP, clock or global state.
"""

from ._engine import ANALYSES, analyse, analyse_with_report
from ._records import Effect, Note, PluginContext, Priority, Report, Suggestion

__all__ = [
    "ANALYSES",
    "Effect",
    "Note",
    "PluginContext",
    "Priority",
    "Report",
    "Suggestion",
    "analyse",
    "analyse_with_report",
]
