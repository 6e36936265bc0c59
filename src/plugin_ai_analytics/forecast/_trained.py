"""A trained forecaster: the chosen model with its intervals and fitted parameters, its forecast
from the latest history, and its JSON-safe state (checked on load, never executable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from plugin_ai_analytics.domain import metric_spec
from plugin_ai_analytics.errors import InsufficientData, ModelIntegrityError

from ._calibration import HORIZON_BLOCKS, Calibration, block_of
from ._candidates import CANDIDATES
from ._regimes import align_level_shifts
from ._results import Forecast, ModelScore
from ._selection import combine, spec_name
from ._series import HOUR, Context, prepare
from ._series import horizon_steps as steps_for

__all__ = ["READABLE_VERSIONS", "STATE_FORMAT", "STATE_VERSION", "TrainedForecaster"]

STATE_FORMAT = "plugin-ai-analytics/forecaster"
STATE_VERSION = 3
# Version 1 states (no fitted parameters) still load: their members are refitted at each predict.
# Version 2 states (no local-volatility scaling of the intervals) load with that scaling off.
READABLE_VERSIONS = (1, 2, 3)


@dataclass(frozen=True)
class TrainedForecaster:
    """A chosen model spec with its calibrated intervals and, for the statistical members, the
    parameters fitted on the training history, which ``predict`` applies to the latest history
    without refitting (other members, and states without parameters, are refitted at predict).

    Holds plain numbers and names only, so its state is small, JSON-safe and can never execute
    code when loaded.
    """

    horizon: pd.Timedelta
    step: pd.Timedelta
    metric: str | None
    members: tuple[str, ...]
    combine: str
    calibration: Calibration = field(repr=False)
    scores: dict[str, ModelScore] = field(repr=False)
    chosen: ModelScore
    backtest_origins: int
    trained_on: tuple[pd.Timestamp, pd.Timestamp, int]
    params: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def model(self) -> str:
        """The chosen model's display name, e.g. ``median(theta, seasonal_median, naive)``."""
        return spec_name(self.members, self.combine)

    @property
    def horizon_steps(self) -> int:
        return steps_for(self.horizon, self.step)

    def predict(
        self,
        series: pd.Series,
        *,
        interval_scale: tuple[float, float] = (1.0, 1.0),
        upper_limit: float | None = None,
    ) -> Forecast:
        """Forecast ``horizon`` after the last timestamp of ``series`` (the latest history).

        ``interval_scale`` multiplies the calibrated 80 % and 95 % offsets (the service's online
        coverage correction; the 95 % interval is kept around the 80 % one). ``upper_limit`` caps
        the point and every bound below the metric's own physical range (a plugin's CPU or memory
        limit); ``clipped`` marks every step where something was moved.
        """
        grid = prepare(series, self.horizon, step=self.step)
        y = grid.values
        h = self.horizon_steps
        ctx = grid.context(len(y), h)
        need = max(CANDIDATES[m].min_steps(ctx) for m in self.members)
        if len(y) < need:
            more = math.ceil((need - len(y)) * self.step / HOUR)
            raise InsufficientData(
                f"insufficient data: need {more} more hours of history for model {self.model}",
                needed_hours=more,
            )
        history = align_level_shifts(y, ctx)
        point = combine(np.stack([self._member_forecast(m, history, ctx) for m in self.members]), self.combine)
        block = block_of(h)
        cal = self.calibration
        vol = cal.volatility_ratio(history, ctx.season)
        s80, s95 = (max(0.0, float(v)) for v in interval_scale)
        lo80, hi80 = vol * s80 * cal.lower_80[block], vol * s80 * cal.upper_80[block]
        lo95 = np.minimum(vol * s95 * cal.lower_95[block], lo80)
        hi95 = np.maximum(vol * s95 * cal.upper_95[block], hi80)
        table = {
            "forecast": point,
            "lower_80": point + lo80,
            "upper_80": point + hi80,
            "lower_95": point + lo95,
            "upper_95": point + hi95,
        }
        clipped = np.zeros(h, dtype=bool)
        lo, hi = -np.inf, np.inf
        if self.metric is not None:
            spec = metric_spec(self.metric)
            lo = spec.lower
            hi = spec.upper if spec.upper is not None else np.inf
        if upper_limit is not None and math.isfinite(upper_limit):
            hi = min(hi, max(float(upper_limit), lo))
        if math.isfinite(lo) or math.isfinite(hi):
            for name, values in table.items():
                c = np.clip(values, lo, hi)
                clipped |= c != values
                table[name] = c
        step_ms = int(self.step.value // 10**6)
        stamps = grid.last.value // 10**6 + step_ms * np.arange(1, h + 1, dtype=np.int64)
        values = {**table, "confidence": np.asarray(cal.confidence[block], dtype=float), "clipped": clipped}
        return Forecast(timestamps_ms=stamps, values=values, model=self.model, metric=self.metric)

    def _member_forecast(self, name: str, history: np.ndarray, ctx: Context) -> np.ndarray:
        cand = CANDIDATES[name]
        if name in self.params:
            out = cand.apply(history, ctx, self.params[name])
            if out is not None:
                return out
        return cand.forecast(history, ctx)

    # -- state -------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-safe description (str/int/float/bool/None/lists/dicts) of this forecaster."""
        cal = self.calibration
        start, end, samples = self.trained_on
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "horizon_seconds": int(self.horizon.total_seconds()),
            "step_seconds": int(self.step.total_seconds()),
            "metric": self.metric,
            "model": {
                "name": self.model,
                "members": list(self.members),
                "combine": self.combine,
                "params": {name: dict(p) for name, p in self.params.items()},
            },
            "intervals": {
                "lower_80": [float(v) for v in cal.lower_80],
                "upper_80": [float(v) for v in cal.upper_80],
                "lower_95": [float(v) for v in cal.lower_95],
                "upper_95": [float(v) for v in cal.upper_95],
            },
            "confidence": [float(v) for v in cal.confidence],
            "volatility": {"steps": int(cal.volatility_steps), "reference": float(cal.volatility_reference)},
            "backtest": {
                "origins": self.backtest_origins,
                "chosen": self.chosen.to_dict(),
                "models": {name: s.to_dict() for name, s in self.scores.items()},
            },
            "trained_on": {"start": start.isoformat(), "end": end.isoformat(), "samples": int(samples)},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TrainedForecaster:
        """Rebuild from ``to_state()``; a malformed or foreign state raises ``ModelIntegrityError``."""
        try:
            if state["format"] != STATE_FORMAT or state["version"] not in READABLE_VERSIONS:
                raise ValueError(f"format {state['format']!r} version {state['version']!r}")
            members = tuple(str(m) for m in state["model"]["members"])
            combine = str(state["model"]["combine"])
            if not members or any(m not in CANDIDATES for m in members) or combine not in {"single", "mean", "median"}:
                raise ValueError(f"unknown model {members} / {combine}")
            horizon = pd.Timedelta(seconds=int(state["horizon_seconds"]))
            step = pd.Timedelta(seconds=int(state["step_seconds"]))
            if horizon <= pd.Timedelta(0) or step <= pd.Timedelta(0):
                raise ValueError("horizon and step must be positive")
            blocks = min(HORIZON_BLOCKS, steps_for(horizon, step))
            arrays = [
                np.asarray(state["intervals"][k], dtype=float) for k in ("lower_80", "upper_80", "lower_95", "upper_95")
            ]
            arrays.append(np.asarray(state["confidence"], dtype=float))
            if any(a.shape != (blocks,) or not np.all(np.isfinite(a)) for a in arrays):
                raise ValueError("interval tables have the wrong length or non-finite values")
            volatility = state.get("volatility") or {"steps": 0, "reference": 0.0}
            vol_steps, vol_ref = int(volatility["steps"]), float(volatility["reference"])
            if vol_steps < 0 or not math.isfinite(vol_ref) or vol_ref < 0:
                raise ValueError("volatility scaling must be non-negative and finite")
            metric = state["metric"]
            if metric is not None:
                metric_spec(metric)
            params = _check_params(state["model"].get("params", {}), members)
            bt = state["backtest"]
            scores = {name: ModelScore(**s) for name, s in bt["models"].items()}
            trained = state["trained_on"]
            return cls(
                horizon=horizon,
                step=step,
                metric=metric,
                members=members,
                combine=combine,
                calibration=Calibration(*arrays, volatility_steps=vol_steps, volatility_reference=vol_ref),
                scores=scores,
                chosen=ModelScore(**bt["chosen"]),
                backtest_origins=int(bt["origins"]),
                trained_on=(
                    pd.Timestamp(trained["start"]),
                    pd.Timestamp(trained["end"]),
                    int(trained["samples"]),
                ),
                params=params,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelIntegrityError(f"invalid forecaster state: {exc}") from None


def _check_params(raw: Any, members: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Stored fitted parameters: for members that keep them, flat dicts of finite numbers, None,
    short strings or lists of those (whether they fit a history is the model's own check)."""
    if not isinstance(raw, dict):
        raise ValueError("params must be an object")
    out: dict[str, dict[str, Any]] = {}
    for name, params in raw.items():
        if name not in members or not CANDIDATES[name].keeps_params or not isinstance(params, dict):
            raise ValueError(f"unexpected parameters for {name!r}")
        for key, value in params.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, str):
                    if len(v) > 16:
                        raise ValueError(f"{name}.{key} is not a parameter")
                elif v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)):
                    raise ValueError(f"{name}.{key} is not a finite number")
        out[name] = dict(params)
    return out


# ---------------------------------------------------------------------------------------------
