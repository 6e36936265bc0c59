"""Online correction of interval widths from the coverage of scored forecasts: adaptive conformal
inference (Gibbs & Candès, 2021) in the quantile-tracking form of the conformal PID controller's
P term (Angelopoulos, Candès & Tibshirani, 2023), on the log of a factor applied to the
calibrated offsets.

Every scored prediction moves the factor of its level: up by ``rate * (1 - alpha)`` when the
actual fell outside the interval it was served with, down by ``rate * alpha`` when inside. When
misses run at the nominal rate alpha the steps cancel; a plugin that under-covers widens, one
that over-covers narrows. Pure: numbers in, numbers out; the service keeps the state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ADAPTATION_RATE_PER_DAY", "SCALE_RANGE", "IntervalAdaptation"]

# Log-factor change per day of scored predictions for a miss rate 1 above nominal. Noise that
# doubles makes about half the actuals miss the old 80 % band (0.3 above nominal): the factor then
# grows by exp(4 x 0.3 / 24) an hour, 2x in about 14 h, so a plugin that under-covers is covered
# again within a day. An ordinary day whose miss rate strays 0.05 from nominal (forecast errors
# come in streaks along a horizon) moves it by exp(0.2) = 1.2x: the width wanders that much.
ADAPTATION_RATE_PER_DAY = 4.0
# The factor never leaves this range: the model's own calibration stays the reference.
SCALE_RANGE = (0.25, 8.0)
_DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class IntervalAdaptation:
    """Factors on the 80 % and 95 % offsets of one plugin's metric, and how many scored
    predictions have moved them."""

    scale_80: float = 1.0
    scale_95: float = 1.0
    scored: int = 0

    def update(
        self,
        inside_80: np.ndarray,
        inside_95: np.ndarray,
        *,
        step_seconds: float,
        rate_per_day: float | None = None,
    ) -> IntervalAdaptation:
        """The factors after the given scored predictions (oldest first; ``inside_*``: the actual
        lay inside the interval as served). ``step_seconds`` is the forecast step: a day of
        predictions moves the factor as much whatever the step."""
        inside_80 = np.asarray(inside_80, dtype=bool)
        inside_95 = np.asarray(inside_95, dtype=bool)
        rate = ADAPTATION_RATE_PER_DAY if rate_per_day is None else rate_per_day
        eta = rate * max(float(step_seconds), 1.0) / _DAY_SECONDS
        lo, hi = math.log(SCALE_RANGE[0]), math.log(SCALE_RANGE[1])
        out = []
        for scale, inside, alpha in ((self.scale_80, inside_80, 0.20), (self.scale_95, inside_95, 0.05)):
            log_scale = math.log(min(max(scale, SCALE_RANGE[0]), SCALE_RANGE[1]))
            # Sequential, with the range applied at each step (as the controller runs online).
            for step in np.where(inside, -alpha, 1.0 - alpha) * eta:
                log_scale = min(hi, max(lo, log_scale + float(step)))
            out.append(math.exp(log_scale))
        return IntervalAdaptation(out[0], out[1], self.scored + len(inside_80))

    @property
    def scales(self) -> tuple[float, float]:
        return self.scale_80, self.scale_95
