"""plugin-ai-analytics: metrics, forecasts, anomalies and optimisation advice for platform plugins.

``ai_analytics`` is a ready ``PluginAIAnalytics`` on the settings from the environment; it
opens the database on first use.
"""

from __future__ import annotations

from ._version import __version__
from .domain import PluginMetrics
from .python_api import PluginAIAnalytics

__all__ = ["PluginAIAnalytics", "PluginMetrics", "ai_analytics", "__version__"]

ai_analytics = PluginAIAnalytics()
