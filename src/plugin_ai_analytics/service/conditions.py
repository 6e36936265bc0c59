"""Ongoing conditions: a state that is bad now (CPU pinned at its allocation, memory at its
limit, a sustained error rate) is reported as bad now, however long ago it began, even when
the anomaly detector has long taken it for the new normal.

Judged on the last hour against the plugin's own limits; a metric whose limit is unknown is
never judged against the host (a plugin does not own the machine's cores).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..times import HOUR_MS, ms_to_iso

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONDITION_WINDOW_MS",
    "CPU_BUSY_SHARE",
    "ERROR_RATE_LIMIT",
    "MEMORY_FULL_SHARE",
    "judged_limits",
    "ongoing_conditions",
]

CONDITION_WINDOW_MS = HOUR_MS  # a condition is judged on this much of the newest data
CPU_BUSY_SHARE = 0.9  # of the plugin's CPU allocation
MEMORY_FULL_SHARE = 0.9  # of the plugin's memory limit: near it is a condition already
ERROR_RATE_LIMIT = 0.05  # 5 % of requests failing


def judged_limits(plugin: dict[str, Any]) -> dict[str, float | None]:
    """The level at which each metric is a problem for this plugin; None = the limit is unknown."""
    cpu = plugin.get("cpu_limit_percent")
    memory = plugin.get("memory_limit_mb")
    return {
        "cpu_percent": CPU_BUSY_SHARE * float(cpu) if cpu else None,
        "memory_mb": float(memory) if memory else None,
        "error_rate": ERROR_RATE_LIMIT,
    }


def ongoing_conditions(
    recent: dict[str, float | None], plugin: dict[str, Any], frame: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Conditions the last hour shows (``recent``: ``cpu_mean``, ``memory_max``, ``error_rate_mean``).

    With the plugin's recent ``frame`` each condition also says since when it has held
    (the first sample after the last one that did not meet it).
    """
    limits = judged_limits(plugin)
    if limits["memory_mb"] is not None:  # memory is a condition already when it is near its limit
        limits["memory_mb"] *= MEMORY_FULL_SHARE
    checks = (
        ("cpu_percent", "cpu_mean", "saturated", "CPU at {value:.1f} % of one core; its allocation is {alloc:g} %"),
        ("memory_mb", "memory_max", "near_limit", "memory at {value:.0f} MiB of its {alloc:g} MiB limit"),
        ("error_rate", "error_rate_mean", "high_error_rate", "{pct:.1f} % of requests failing"),
    )
    out = []
    for metric, key, kind, text in checks:
        value, limit = recent.get(key), limits[metric]
        if value is None or limit is None or value < limit:
            continue
        allocation = {"cpu_percent": plugin.get("cpu_limit_percent"), "memory_mb": plugin.get("memory_limit_mb")}
        since = _since(frame, metric, limit) if frame is not None else None
        out.append(
            {
                "metric": metric,
                "kind": kind,
                "value": float(value),
                "limit": float(limit),
                "since": ms_to_iso(since),
                "summary": text.format(value=value, alloc=allocation.get(metric) or 0, pct=100 * value),
            }
        )
    return out


def _since(frame: pd.DataFrame, metric: str, limit: float) -> int | None:
    """When the condition began: the start of the first hour after the newest hour whose mean
    was below ``limit`` (hourly, so one quiet sample does not restart the clock)."""
    if frame.empty or metric not in frame.columns:
        return None
    hourly = frame[metric].dropna().resample("1h").mean().dropna()
    if hourly.empty:
        return None
    below = hourly[hourly < limit]
    after = hourly[hourly.index > below.index[-1]] if len(below) else hourly
    return int(after.index[0].value // 10**6) if len(after) else None
