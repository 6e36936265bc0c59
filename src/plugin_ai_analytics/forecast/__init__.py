"""Forecasting engine: per-series model choice by rolling-origin backtest, conformal 80 %/95 %
intervals, a JSON-safe trained state. Pure functions of the series they are given.
"""

from ._adaptive import IntervalAdaptation
from ._candidates import CANDIDATES
from ._engine import DEFAULT_POOL, MODEL_POOLS, backtest, train
from ._report import BacktestReport, OriginResult
from ._results import Forecast, ModelScore
from ._scoring import accuracy, accuracy_from_sums, coverage, mase, seasonal_scale
from ._series import hours_needed
from ._trained import TrainedForecaster

__all__ = [
    "CANDIDATES",
    "DEFAULT_POOL",
    "MODEL_POOLS",
    "BacktestReport",
    "Forecast",
    "IntervalAdaptation",
    "ModelScore",
    "OriginResult",
    "TrainedForecaster",
    "accuracy",
    "accuracy_from_sums",
    "backtest",
    "coverage",
    "hours_needed",
    "mase",
    "seasonal_scale",
    "train",
]
