"""Health at a glance: one row per plugin for the dashboard's overview, and one plugin's row
with its models and accuracy per day."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import Record
from .conditions import Condition
from .forecasts import TrainingReadiness
from .plugins import SourceStatus
from .summary import ModelInfo

__all__ = ["HealthRow", "PluginHealth", "PluginsOverview"]

Health = Literal["ok", "warning", "critical", "no_data"]


class Risk(Record):
    """A limit the current forecast reaches (or may reach), or a rising error rate."""

    metric: str
    kind: Literal["limit", "rising"]
    level: Literal["high", "medium"]
    value: float
    limit: float | None
    at: str | None = Field(description="first forecast time at which the limit is reached")
    from_value: float | None = Field(default=None, description="for a rising error rate: where it rises from")


class HealthAccuracy(Record):
    tracked_percent: float | None
    scored_predictions: int
    backtest_percent: float | None
    trained_metrics: int


class HealthForecast(Record):
    made_at: str | None
    until: str | None
    metrics: list[str]
    risk: Literal["none", "medium", "high"] | None
    risks: list[Risk]


class HealthRow(Record):
    plugin_id: str
    name: str
    description: str
    source: str | None = Field(description="the source type, or null for a push-only plugin")
    interval_seconds: float
    memory_limit_mb: float | None
    samples: int
    first_sample: str | None
    last_sample: str | None
    age_seconds: float | None
    stale: bool
    open_anomalies: dict[str, int]
    anomalies_24h: int
    accuracy: HealthAccuracy
    forecast: HealthForecast
    limits: dict[str, float | None] = Field(
        description="the level each metric is judged against; null = the plugin's limit is unknown"
    )
    conditions: list[Condition]
    source_status: SourceStatus | None = Field(default=None, description="how its source answers, if it has one")
    health: Health
    reasons: list[str]


class PluginsOverview(Record):
    generated_at: str | None
    cpu_cores: int
    thresholds: dict[str, float]
    health_counts: dict[str, int]
    plugins: list[HealthRow]


class DailyAccuracy(Record):
    day: str
    accuracy_percent: float | None
    scored: int


class PluginHealth(HealthRow):
    training: TrainingReadiness
    models: dict[str, ModelInfo]
    accuracy_daily: dict[str, list[DailyAccuracy]]
    thresholds: dict[str, float]
    cpu_cores: int
    generated_at: str | None
