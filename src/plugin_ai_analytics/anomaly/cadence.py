"""The sampling cadence of one plugin: the order of its timestamps, its step (the median interval
during warm-up), its samples per day, and how many samples each gap skipped, so that seasonal
baselines stay in phase with the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from ..errors import ValidationError

__all__ = ["MAX_GAP_FILL", "Cadence"]

MAX_GAP_FILL = 2016  # never impute more than a week of 5-minute samples for one gap


class Cadence:
    """When the samples of one plugin arrive.

    >>> from datetime import datetime, timedelta
    >>> cadence, t0 = Cadence(), datetime(2026, 1, 1)
    >>> [cadence.advance(t0 + timedelta(minutes=5 * i)) for i in range(3)]
    [0, 0, 0]
    >>> cadence.finish_warmup()
    >>> cadence.step_seconds, cadence.period, cadence.advance(t0 + timedelta(minutes=30))
    (300.0, 288, 3)
    """

    # One per plugin, thousands per process: no per-instance dict.
    __slots__ = ("last_timestamp", "step_seconds", "period", "_steps")

    def __init__(self) -> None:
        self.last_timestamp: datetime | None = None
        self.step_seconds: float | None = None
        self.period: int | None = None  # samples per day, once known
        self._steps: list[float] = []  # intervals seen during warm-up

    def require_after(self, ts: datetime) -> None:
        """``ValidationError`` unless ``ts`` is later than the previous sample."""
        if self.last_timestamp is not None and ts <= self.last_timestamp:
            raise ValidationError(
                f"timestamp {ts.isoformat()} is not after the previous sample {self.last_timestamp.isoformat()}",
                field="timestamp",
            )

    def advance(self, ts: datetime) -> int:
        """Take the next sample's timestamp; return how many samples the gap before it skipped
        (0 until the step is known), which the caller imputes to keep seasonal phase."""
        missing = 0
        if self.last_timestamp is not None:
            delta = (ts - self.last_timestamp).total_seconds()
            if self.step_seconds is None:
                self._steps.append(delta)
            elif delta > 1.5 * self.step_seconds:
                missing = min(int(round(delta / self.step_seconds)) - 1, MAX_GAP_FILL)
        self.last_timestamp = ts
        return missing

    def finish_warmup(self) -> None:
        """The sampling step (median interval during warm-up) and the samples per day from it."""
        if self._steps:
            self.step_seconds = float(np.median(self._steps))
        self._steps = []
        if self.step_seconds and self.step_seconds > 0:
            per_day = int(round(86400.0 / self.step_seconds))
            if per_day >= 4:
                self.period = per_day

    def learn_block(self, times: Sequence[datetime], warmup: int) -> np.ndarray:
        """``advance`` over ``times`` (a first block, longer than ``warmup``) with the warm-up
        finished at sample ``warmup``: the same step and period. Returns, per sample, how many
        samples the gap before it skipped (0 up to the end of warm-up)."""
        n = len(times)
        deltas = np.array([(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)])
        self._steps = [float(d) for d in deltas[: warmup - 1]]
        self.finish_warmup()
        gap_slots = np.zeros(n, dtype=int)
        if self.step_seconds:
            later = deltas[warmup - 1 :]
            fill = np.where(
                later > 1.5 * self.step_seconds, np.minimum(np.rint(later / self.step_seconds) - 1, MAX_GAP_FILL), 0
            )
            gap_slots[warmup:] = fill.astype(int)
        self.last_timestamp = times[-1]
        return gap_slots

    def to_state(self) -> dict[str, Any]:
        """The cadence's keys of the detector's state."""
        return {
            "last_timestamp": self.last_timestamp.isoformat() if self.last_timestamp else None,
            "step_seconds": self.step_seconds,
            "period": self.period,
            "steps": list(self._steps),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Cadence:
        """The cadence from its keys of a detector's state."""
        cadence = cls()
        last = state["last_timestamp"]
        cadence.last_timestamp = datetime.fromisoformat(last) if last else None
        cadence.step_seconds = state["step_seconds"]
        cadence.period = state["period"]
        cadence._steps = [float(s) for s in state["steps"]]
        return cadence
