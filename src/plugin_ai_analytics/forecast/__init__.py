"""Forecasting engine: per-series model choice by rolling-origin backtest, conformal 80 %/95 %
intervals, a JSON-safe trained state. Pure functions of the series they are given.
"""

from ._candidates import CANDIDATES
from ._engine import (
    BacktestReport,
    Forecast,
    ModelScore,
    OriginResult,
    TrainedForecaster,
    backtest,
    train,
)
from ._scoring import accuracy, accuracy_from_totals, coverage, mase, seasonal_scale

__all__ = [
    "CANDIDATES",
    "BacktestReport",
    "Forecast",
    "ModelScore",
    "OriginResult",
    "TrainedForecaster",
    "accuracy",
    "accuracy_from_totals",
    "backtest",
    "coverage",
    "mase",
    "seasonal_scale",
    "train",
]
