"""The operator-facing backtest report: per-origin scores of the engine as it runs in production,
their averages, and the plain-text table the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BacktestReport", "OriginResult"]


@dataclass(frozen=True)
class OriginResult:
    """One backtest origin: the forecast made from everything before ``origin`` and its scores."""

    origin: pd.Timestamp
    model: str
    mase: float
    accuracy: float
    coverage_80: float
    coverage_95: float
    forecast: pd.DataFrame = field(repr=False)
    actual: np.ndarray = field(repr=False)
    fit_seconds: float = 0.0  # wall clock of train + predict
    fit_cpu_seconds: float = 0.0  # CPU time of this process for the same (not inflated by load)

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin.isoformat(),
            "model": self.model,
            "mase": self.mase,
            "accuracy": self.accuracy,
            "coverage_80": self.coverage_80,
            "coverage_95": self.coverage_95,
        }


@dataclass(frozen=True)
class BacktestReport:
    """Per-origin and average scores of the engine on a series' last ``origins`` horizons."""

    horizon: pd.Timedelta
    origins: list[OriginResult]

    def _mean(self, attr: str) -> float:
        return float(np.mean([getattr(o, attr) for o in self.origins]))

    @property
    def mase(self) -> float:
        return self._mean("mase")

    @property
    def accuracy(self) -> float:
        return self._mean("accuracy")

    @property
    def coverage_80(self) -> float:
        return self._mean("coverage_80")

    @property
    def coverage_95(self) -> float:
        return self._mean("coverage_95")

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizon_seconds": int(self.horizon.total_seconds()),
            "origins": [o.to_dict() for o in self.origins],
            "average": {
                "mase": self.mase,
                "accuracy": self.accuracy,
                "coverage_80": self.coverage_80,
                "coverage_95": self.coverage_95,
            },
        }

    def format(self) -> str:
        """A plain-text table for the CLI."""
        lines = [f"{'origin':<26} {'model':<40} {'MASE':>6} {'acc %':>6} {'cov80':>6} {'cov95':>6}"]
        for o in self.origins:
            lines.append(
                f"{o.origin.isoformat():<26} {o.model[:40]:<40} {o.mase:>6.3f} {o.accuracy:>6.1f} "
                f"{o.coverage_80:>6.2f} {o.coverage_95:>6.2f}"
            )
        lines.append(
            f"{'average':<26} {'':<40} {self.mase:>6.3f} {self.accuracy:>6.1f} "
            f"{self.coverage_80:>6.2f} {self.coverage_95:>6.2f}"
        )
        return "\n".join(lines)
