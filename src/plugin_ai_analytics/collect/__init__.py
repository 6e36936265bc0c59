"""Everything that brings metrics in from outside: pull sources (a local process, a Prometheus
exposition endpoint, a PromQL query) behind one ``Source`` protocol, and the instrumentation
client (``PluginMonitor``) that host platforms wrap around plugin calls.
"""

from plugin_ai_analytics.collect.base import (
    MetricValues,
    ProcessSourceConfig,
    PrometheusMapping,
    PrometheusSourceConfig,
    PromQLSourceConfig,
    Source,
    SourceConfig,
    parse_source_config,
)
from plugin_ai_analytics.collect.client import PluginMonitor, TrackedCall
from plugin_ai_analytics.collect.sources import build_source

__all__ = [
    "MetricValues",
    "PluginMonitor",
    "ProcessSourceConfig",
    "PromQLSourceConfig",
    "PrometheusMapping",
    "PrometheusSourceConfig",
    "Source",
    "SourceConfig",
    "TrackedCall",
    "build_source",
    "parse_source_config",
]
