"""The records the whole service speaks in: a metric sample and its fields' physical ranges.

Everything that measures, stores, forecasts or judges a plugin refers to the metric names and
ranges defined here, so a unit or a range is written down exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "METRICS",
    "FORECAST_METRICS",
    "FORECAST_POINT_FIELDS",
    "METRIC_NAMES",
    "PLUGIN_ID_PATTERN",
    "MetricSpec",
    "PluginMetrics",
    "metric_spec",
    "valid_plugin_id",
]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One measured field: its unit, its physical range and whether it counts things."""

    name: str
    unit: str
    lower: float
    # The largest value accepted from a client: far above anything real, low enough that every
    # value stays finite and exact through storage, training and JSON (a memory_mb of 1e308 once
    # broke a plugin's training); counts up to 2^53 are exact as floats and in JSON.
    upper: float
    integer: bool = False
    description: str = ""

    def clip(self, value: float, *, cpu_cores: int | None = None) -> tuple[float, bool]:
        """Clip ``value`` to the physical range; return the value and whether it was clipped."""
        upper = self.upper
        if self.name == "cpu_percent" and cpu_cores:  # the machine's cores bound a forecast
            upper = 100.0 * cpu_cores
        clipped = value
        if clipped < self.lower:
            clipped = self.lower
        if clipped > upper:
            clipped = upper
        return clipped, clipped != value


MAX_COUNT = float(2**53)
DAY_MS = 86_400_000.0

# Order matters: it is the column order of stored samples, exports and the forecast table.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("cpu_percent", "% of one core", 0.0, 100.0 * 4096, description="CPU use; 100 = one full core"),
    MetricSpec("memory_mb", "MiB", 0.0, float(2**30), description="resident memory (at most 1 PiB)"),
    MetricSpec("response_time_ms", "ms", 0.0, DAY_MS, description="mean response time over the interval"),
    MetricSpec("response_time_p95_ms", "ms", 0.0, DAY_MS, description="95th percentile response time"),
    MetricSpec("error_rate", "errors/requests", 0.0, 1.0, description="share of failed requests"),
    MetricSpec("request_count", "requests", 0.0, MAX_COUNT, integer=True, description="requests in the interval"),
    MetricSpec("active_users", "users", 0.0, MAX_COUNT, integer=True, description="distinct users in the interval"),
)
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)

# The six series the seed forecasts (p95 is kept and shown, but it is forecast only when present).
FORECAST_METRICS: tuple[str, ...] = (
    "cpu_percent",
    "memory_mb",
    "response_time_ms",
    "error_rate",
    "request_count",
    "active_users",
)

# What a forecast says about one future instant, in this order wherever a point is stored or
# served (the schema ``ForecastPoint`` adds its timestamp): the point forecast, the 80 % and 95 %
# interval bounds, the confidence %, and whether a value was clipped to the physical range.
FORECAST_POINT_FIELDS: tuple[str, ...] = (
    "value",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
    "confidence",
    "clipped",
)

_BY_NAME = {m.name: m for m in METRICS}


def metric_spec(name: str) -> MetricSpec:
    """The spec of metric ``name``; ``KeyError`` names the unknown metric."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}") from None


PLUGIN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_PLUGIN_ID_RE = re.compile(PLUGIN_ID_PATTERN)


def valid_plugin_id(plugin_id: str) -> bool:
    """A plugin id is 1-128 characters of letters, digits and ``. _ : -``, not starting with a symbol."""
    return bool(_PLUGIN_ID_RE.match(plugin_id))


@dataclass(slots=True)
class PluginMetrics:
    """One sample of one plugin at one UTC instant; any metric may be missing (None)."""

    plugin_id: str
    timestamp: datetime
    cpu_percent: float | None = None
    memory_mb: float | None = None
    response_time_ms: float | None = None
    response_time_p95_ms: float | None = None
    error_rate: float | None = None
    request_count: int | None = None
    active_users: int | None = None

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            self.timestamp = self.timestamp.replace(tzinfo=UTC)

    def values(self) -> dict[str, float | int | None]:
        """The metric values by name, in ``METRICS`` order."""
        return {name: getattr(self, name) for name in METRIC_NAMES}
