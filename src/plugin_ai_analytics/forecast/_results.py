"""What the forecasting engine hands back: the forecast table and the backtest figures of a model.

``FORECAST_COLUMNS`` are a point's fields as spelled once in ``domain.FORECAST_POINT_FIELDS``,
after the time, the point forecast named ``forecast`` (the column the CLI writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..domain import FORECAST_POINT_FIELDS

__all__ = ["FORECAST_COLUMNS", "Forecast", "ModelScore"]

FORECAST_COLUMNS = ("timestamp", "forecast", *FORECAST_POINT_FIELDS[1:])


@dataclass(frozen=True)
class Forecast:
    """A forecast table plus the model that made it.

    ``frame`` has the columns ``timestamp, forecast, lower_80, upper_80, lower_95, upper_95,
    confidence, clipped``. ``confidence`` is the backtest accuracy % (100 x (1 - WAPE)) of this
    model at that horizon step; ``clipped`` says the point or a bound was moved into the
    metric's physical range.
    """

    timestamps_ms: np.ndarray  # int64 epoch milliseconds of each step
    values: dict[str, np.ndarray]  # the other FORECAST_COLUMNS, one array each
    model: str
    metric: str | None = None

    def __len__(self) -> int:
        return len(self.timestamps_ms)

    def __getitem__(self, key: Any) -> Any:
        return self.frame[key]

    @property
    def columns(self) -> pd.Index:
        return pd.Index(FORECAST_COLUMNS)

    @property
    def frame(self) -> pd.DataFrame:
        """The table (built on demand: the service reads the arrays, the CLI writes the table)."""
        stamps = pd.DatetimeIndex(pd.to_datetime(self.timestamps_ms, unit="ms", utc=True))
        return pd.DataFrame({"timestamp": stamps, **self.values}, columns=list(FORECAST_COLUMNS))

    def to_frame(self) -> pd.DataFrame:
        return self.frame


@dataclass(frozen=True)
class ModelScore:
    """Backtest figures of one candidate (or the chosen combination) on the training series."""

    mase: float
    accuracy: float
    coverage_80: float | None = None
    coverage_95: float | None = None
    origins: int | None = None  # backtest origins behind these figures (fewer: left the race)

    def to_dict(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "mase": self.mase,
            "accuracy": self.accuracy,
            "coverage_80": self.coverage_80,
            "coverage_95": self.coverage_95,
        }
        if self.origins is not None:
            out["origins"] = self.origins
        return out
