"""Forecasting's answers: 24 h forecasts with their intervals, and how accurate stored forecasts
proved once the actual values arrived."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from typing_extensions import TypedDict

from ._base import Record

__all__ = [
    "ForecastAccuracy",
    "ForecastFailure",
    "ForecastPoint",
    "MetricForecast",
    "PluginForecast",
    "TrackedAccuracy",
    "TrainedModel",
    "TrainingReadiness",
]


class ForecastPoint(TypedDict):
    """One future instant: the point forecast, its 80 % and 95 % intervals, the confidence %
    (backtest accuracy of this model at that horizon step) and whether it was clipped to the
    metric's physical range. Fields in ``domain.FORECAST_POINT_FIELDS`` order after the time."""

    timestamp: str
    value: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float
    confidence: float
    clipped: bool


class MetricForecast(Record):
    model: str = Field(description="the chosen model or ensemble")
    model_version: int
    forecast: list[ForecastPoint]


class ForecastFailure(Record):
    """A metric whose model could not forecast (e.g. it failed verification)."""

    error: str


class PluginForecast(Record):
    plugin_id: str
    made_at: str | None
    horizon_hours: float
    confidence_means: str
    metrics: dict[str, MetricForecast | ForecastFailure]
    stored_only: bool = Field(
        default=False,
        description="the plugin has no active model: this is its newest stored forecast as it was made "
        "(its age is made_at, and the Age header in seconds)",
    )


class TrackedAccuracy(Record):
    """Stored forecasts of one metric scored against the actual values that arrived."""

    scored_predictions: int
    accuracy_percent: float | None = Field(description="100 x (1 - WAPE), floored at 0")
    coverage_80: float = Field(description="share of actuals inside the 80 % interval")
    coverage_95: float
    mase: float | None = Field(description="mean absolute error over the training history's daily seasonal-naive MAE")


class ForecastAccuracy(Record):
    plugin_id: str
    window_days: float
    metrics: dict[str, TrackedAccuracy]


class TrainedModel(Record):
    """The active forecasting model of one plugin's metric."""

    plugin_id: str
    metric: str
    model: str
    version: int
    trained_at: str
    backtest: dict[str, Any] | None = Field(description="the chosen model's backtest scores")


class TrainingReadiness(Record):
    """Whether training can run now, and if not how much more history it needs."""

    trained: bool = Field(description="the plugin has active models")
    ready: bool = Field(description="at least one metric has enough history to train")
    needed_hours: float = Field(description="hours of samples the closest metric still lacks (0 when ready)")
    have_hours: float = Field(description="hours of samples of that metric")
    metrics: dict[str, float] = Field(description="per metric with samples: hours still needed")
