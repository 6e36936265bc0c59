"""What the detector is told about a plugin rather than what it learns: its limits and the
operational floors below which a change does not matter to an operator.

A ``PluginContext`` is immutable and is not part of the detector's learnt state: the service
builds one from its settings and the plugin's registration and hands it to the plugin's detector
(``PluginDetector.use_context``) before scoring, so a changed limit is seen on the next sample.
The engine uses it for three things: severity (a change below the metric's floor is at most Low;
a value near the plugin's limit adds a point), the normal band shown as evidence (clipped to the
metric's physical range and the plugin's limit) and the diagnosis (only the metrics the plugin
reports are cited, and actions stay proportional to the size of the change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "DEFAULT_FLOORS",
    "DEFAULT_MEMORY_FLOOR_FRACTION",
    "PHYSICAL_RANGES",
    "PluginContext",
]

# Absolute changes below these are operationally negligible: an event whose every metric with a
# floor moved less than its floor is at most Low. CPU in points of one core (the unit of
# cpu_percent), latency in ms, error rate as a fraction (0.01 = one percentage point), memory in
# MiB when the plugin has no memory limit (with a limit: DEFAULT_MEMORY_FLOOR_FRACTION of it).
# 20 MiB is 1 % of a 2 GiB limit, a common container size; a plugin that registers its limit
# gets its own 1 %. Counts (requests, users) and unknown metrics have no floor.
DEFAULT_FLOORS: Mapping[str, float] = MappingProxyType(
    {
        "cpu_percent": 5.0,
        "memory_mb": 20.0,
        "response_time_ms": 10.0,
        "response_time_p95_ms": 10.0,
        "error_rate": 0.01,
    }
)
DEFAULT_MEMORY_FLOOR_FRACTION = 0.01

# Physical ranges of the known metrics (domain.py's, repeated here because the engine imports
# nothing from the service's ground floor but errors): a band is never shown outside them.
PHYSICAL_RANGES: Mapping[str, tuple[float, float | None]] = MappingProxyType(
    {
        "cpu_percent": (0.0, None),
        "memory_mb": (0.0, None),
        "response_time_ms": (0.0, None),
        "response_time_p95_ms": (0.0, None),
        "error_rate": (0.0, 1.0),
        "request_count": (0.0, None),
        "active_users": (0.0, None),
    }
)

# A value within this share of the plugin's limit is saturating: severity adds a point.
NEAR_LIMIT_SHARE = 0.9


@dataclass(frozen=True, slots=True)
class PluginContext:
    """A plugin's limits and the floors its events are judged against.

    ``cpu_limit_percent``: the plugin's CPU allocation in % of one core (200 = two cores), None
    when unknown. ``memory_limit_mb``: its memory limit, None when unknown. ``floors``: the
    absolute change per metric below which an event is at most Low (``DEFAULT_FLOORS`` for the
    metrics not given); ``memory_floor_fraction``: the memory floor as a share of the memory
    limit, when there is one (it replaces ``floors["memory_mb"]``).
    """

    cpu_limit_percent: float | None = None
    memory_limit_mb: float | None = None
    floors: Mapping[str, float] = field(default_factory=lambda: DEFAULT_FLOORS)
    memory_floor_fraction: float = DEFAULT_MEMORY_FLOOR_FRACTION

    def __post_init__(self) -> None:
        merged = {**DEFAULT_FLOORS, **dict(self.floors)}
        for name, value in merged.items():
            if not value >= 0.0:
                raise ValueError(f"floor for {name} must be >= 0, got {value!r}")
        for name, limit in (("cpu_limit_percent", self.cpu_limit_percent), ("memory_limit_mb", self.memory_limit_mb)):
            if limit is not None and not limit > 0.0:
                raise ValueError(f"{name} must be > 0 or None, got {limit!r}")
        object.__setattr__(self, "floors", MappingProxyType(merged))

    def limit(self, metric: str) -> float | None:
        """The plugin's own ceiling for ``metric`` (its CPU allocation, its memory limit), if known."""
        if metric == "cpu_percent":
            return self.cpu_limit_percent
        if metric == "memory_mb":
            return self.memory_limit_mb
        return None

    def floor(self, metric: str) -> float | None:
        """The absolute change below which ``metric``'s events are at most Low (None: no floor)."""
        if metric == "memory_mb" and self.memory_limit_mb is not None:
            return self.memory_floor_fraction * self.memory_limit_mb
        return self.floors.get(metric)

    def clip(self, metric: str, value: float | None) -> float | None:
        """``value`` within ``metric``'s physical range and the plugin's limit (unknown metrics as is)."""
        if value is None:
            return None
        lower, upper = PHYSICAL_RANGES.get(metric, (None, None))
        limit = self.limit(metric)
        if limit is not None:
            upper = limit if upper is None else min(upper, limit)
        if lower is not None and value < lower:
            value = lower
        if upper is not None and value > upper:
            value = upper
        return value

    def change_below_floor(self, metric: str, observed: float, expected: float | None) -> bool:
        """The change from ``expected`` to ``observed`` is smaller than ``metric``'s floor."""
        floor = self.floor(metric)
        return floor is not None and expected is not None and abs(observed - expected) < floor

    def near_limit(self, metric: str, value: float) -> bool:
        """``value`` is within ``NEAR_LIMIT_SHARE`` of the plugin's limit (False when it has none)."""
        limit = self.limit(metric)
        return limit is not None and value >= NEAR_LIMIT_SHARE * limit
