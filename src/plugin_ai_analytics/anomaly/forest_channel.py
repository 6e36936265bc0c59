"""The cross-metric channel of one plugin: an IsolationForest over all its metrics at once (their
last values and the hour of day) with its calibrator, sample by sample, over a block of samples,
or learnt from a history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from .block import CalibratorSteps
from .calibration import TailCalibrator
from .channel import MAX_SURPRISE, MetricChannel
from .isolation import IsolationForestDetector

__all__ = ["ForestChannel"]


def _hour(ts: datetime) -> float:
    return ts.hour + ts.minute / 60.0


class ForestChannel:
    """The forest (None until warm-up ends with two metrics or more), the metrics it reads, in
    order, and the calibrator that turns its raw scores into surprises."""

    # One per plugin, thousands per process: no per-instance dict.
    __slots__ = ("forest", "metrics", "calibrator")

    def __init__(self) -> None:
        self.forest: IsolationForestDetector | None = None
        self.metrics: list[str] = []
        self.calibrator = TailCalibrator(1000, 100)

    def start(self, metrics: Iterable[str], sensitivity: float) -> None:
        """At the end of warm-up: read ``metrics`` (in sorted order) from now on."""
        self.metrics = sorted(metrics)
        # The forest is the cross-metric detector: with a single metric the per-metric ensemble
        # already covers it, and adding it measurably only adds false alarms (NAB 58.8 -> 53.7).
        if len(self.metrics) >= 2:
            self.forest = IsolationForestDetector(n_features=len(self.metrics) + 1, contamination=min(0.5, sensitivity))

    def _row(self, ts: datetime, channels: Mapping[str, MetricChannel]) -> list[float]:
        row = []
        for name in self.metrics:
            last = channels[name].last_value
            row.append(0.0 if last is None else last)  # carry the last value over a missing one
        row.append(_hour(ts))
        return row

    def update(self, ts: datetime, channels: Mapping[str, MetricChannel]) -> float | None:
        """Score the sample at ``ts`` (the channels' last values), then learn it: its surprise, or
        None while there are no trees yet."""
        if self.forest is None:
            return None
        row = self._row(ts, channels)
        surprise = None
        if self.forest.ready:
            raw = self.forest.score_one(row)
            surprise = min(self.calibrator.surprise(raw), MAX_SURPRISE)
            self.calibrator.learn_one(raw)
        self.forest.learn_one(row)
        return surprise

    def replay(
        self, times: Sequence[datetime], columns: Mapping[str, list[float]], channels: Mapping[str, MetricChannel]
    ) -> Iterator[float | None]:
        """``update`` of each sample of a block, one surprise per sample as it is drawn, for much
        less work: the rows between two refits are scored at once.

        ``columns``: per metric, its value at each sample (NaN: missing); ``channels`` as they
        stand before the block (their last values start the rows).
        """
        forest = self.forest
        if forest is None:
            return iter([None] * len(times))
        # The rows, built now, before the block's samples move the channels' last values.
        last = {name: channels[name].last_value for name in self.metrics}
        rows: list[list[float]] = []
        for k, ts in enumerate(times):
            for name in self.metrics:
                v = columns[name][k] if name in columns else math.nan
                if v == v:  # not NaN: the channel's last value is now this one
                    last[name] = v
            row = [0.0 if last[name] is None else last[name] for name in self.metrics]
            rows.append([*row, _hour(ts)])
        return self._replay_rows(forest, rows, CalibratorSteps(self.calibrator))

    @staticmethod
    def _replay_rows(
        forest: IsolationForestDetector, rows: list[list[float]], calibrator: CalibratorSteps
    ) -> Iterator[float | None]:
        raws: list[float] = []
        raws_from = scored_until = 0
        for k, row in enumerate(rows):
            surprise = None
            if forest.ready:
                if k >= scored_until:  # rows up to the next refit, scored with the current trees
                    raws_from, scored_until = k, k + forest.rows_until_refit(len(rows) - k)
                    raws = forest.score_run(rows[k:scored_until])
                surprise = min(calibrator.step(raws[k - raws_from]), MAX_SURPRISE)
            forest.learn_one(row)
            yield surprise

    def learn_history(self, times: Sequence[datetime], columns: Mapping[str, np.ndarray], first: int) -> None:
        """The forest's rows, trees and calibrator as streaming the samples of ``times`` would have
        left them, the forest existing from sample ``first`` on: the same rows (last values carried
        over missing ones), the same last fit, and the calibrator filled with the current trees'
        scores of rows they were not fitted on."""
        forest = self.forest
        if forest is None:
            return
        carried = []
        for name in self.metrics:
            col = columns[name]
            idx = np.where(~np.isnan(col), np.arange(len(col)), -1)
            idx = np.maximum.accumulate(idx)
            carried.append(np.where(idx >= 0, col[np.maximum(idx, 0)], 0.0)[first:])
        hours = [_hour(ts) for ts in times[first:]]
        raws, seen = forest.learn_rows(np.column_stack([*carried, hours]), self.calibrator.capacity)
        if len(raws):
            self.calibrator.learn_many(raws, seen)

    def to_state(self) -> dict[str, Any]:
        """The channel's keys of the detector's state."""
        return {
            "forest": self.forest.to_state() if self.forest is not None else None,
            "forest_metrics": list(self.metrics),
            "forest_calibrator": self.calibrator.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ForestChannel:
        """The channel from its keys of a detector's state."""
        channel = cls()
        channel.forest = IsolationForestDetector.from_state(state["forest"]) if state["forest"] else None
        channel.metrics = list(state["forest_metrics"])
        channel.calibrator = TailCalibrator.from_state(state["forest_calibrator"])
        return channel
