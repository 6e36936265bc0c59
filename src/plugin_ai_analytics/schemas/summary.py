"""The one-page summary of a plugin."""

from __future__ import annotations

from pydantic import Field

from ._base import Record
from .anomalies import AnomalyEvent
from .conditions import Condition
from .forecasts import ForecastPoint, TrackedAccuracy
from .suggestions import Suggestion

__all__ = [
    "AnalyticsSummary",
    "CurrentValue",
    "DailyPattern",
    "DataQuality",
    "ForecastDigest",
    "ModelInfo",
    "Trend",
]


class CurrentValue(Record):
    value: float
    at: str


class DailyPattern(Record):
    by_hour_utc: list[float]
    peak_hour_utc: int
    trough_hour_utc: int
    peak_to_trough: float | None


class Trend(Record):
    """One metric over the last 7 days against the 7 before."""

    mean_7d: float
    slope_per_day: float | None = Field(default=None, description="Theil-Sen slope of hourly means, per day")
    slope_per_day_95ci: list[float] | None = None
    direction: str | None = Field(default=None, description="rising, falling or flat (95 % interval of the slope)")
    mean_previous_7d: float | None = None
    change_vs_previous_7d_percent: float | None = None
    daily_pattern: DailyPattern | None = None


class PeakDigest(Record):
    timestamp: str
    value: float
    upper_95: float


class ForecastDigest(Record):
    model: str
    next: ForecastPoint
    peak_24h: PeakDigest
    highest_upper_95: float
    mean_confidence: float


class ModelInfo(Record):
    model: str
    version: int
    trained_at: str | None
    backtest: dict[str, object] | None = Field(description="the chosen model's backtest scores")


class AnomalyDigest(Record):
    open: list[AnomalyEvent]
    last_7_days: dict[str, int] = Field(description="events started in the last 7 days, per severity")


class ModelAccuracy(Record):
    models: dict[str, ModelInfo]
    tracked: dict[str, TrackedAccuracy]


class DataQuality(Record):
    gaps_7d: int = Field(description="intervals over 2.5 sampling steps in the last 7 days")
    longest_gap_minutes: float
    stale: bool | None
    step_seconds: float | None
    rejected_batches_24h: int
    last_sample_age_seconds: float | None = None
    missing_share: dict[str, float] | None = None


class AnalyticsSummary(Record):
    plugin_id: str
    name: str
    generated_at: str | None
    samples: int
    first_sample: str | None
    last_sample: str | None
    current: dict[str, CurrentValue]
    conditions: list[Condition] = Field(description="states that are bad now (CPU saturated, errors …), since when")
    trends: dict[str, Trend]
    forecasts: dict[str, ForecastDigest]
    forecast_made_at: str | None
    anomalies: AnomalyDigest
    suggestions: list[Suggestion] = Field(description="the five most urgent suggestions on record")
    model_accuracy: ModelAccuracy
    data_quality: DataQuality
