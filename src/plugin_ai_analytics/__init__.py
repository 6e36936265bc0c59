"""plugin-ai-analytics: metrics, forecasts, anomalies and optimisation advice for platform plugins.

``ai_analytics`` is a ready ``PluginAIAnalytics`` on the settings from the environment; it
opens the database on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .analytics import PluginAIAnalytics  # noqa: E402
from .domain import PluginMetrics  # noqa: E402

__all__ = ["PluginAIAnalytics", "PluginMetrics", "ai_analytics", "__version__"]

ai_analytics = PluginAIAnalytics()
