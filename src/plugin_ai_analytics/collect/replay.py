"""The replay source: a recorded series (CSV, as NAB's) played on in real time after the history
imported from it, so a demonstration plugin stays live, as a real one would, instead of going
stale when its recording ends. The recording loops; the timestamps are always the present.
"""

from __future__ import annotations

import csv
import math
import time
from datetime import datetime
from pathlib import Path

from plugin_ai_analytics.errors import SourceError

__all__ = ["ReplaySource"]


class ReplaySource:
    """``collect()`` gives the recorded value as far past the recording's end as ``ends_at`` is past now."""

    def __init__(self, path: str, column: str, metric: str, ends_at: float) -> None:
        self.path = Path(path)
        self.column = column
        self.metric = metric
        self.ends_at = ends_at
        self._times: list[float] | None = None
        self._values: list[float] = []

    def _load(self) -> None:
        try:
            with self.path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise SourceError(f"replay {self.path.name}: cannot read the recording ({exc.strerror})") from None
        times, values = [], []
        for row in rows:
            try:
                stamp = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
                value = float(row[self.column])
            except (KeyError, ValueError):
                continue  # a row the import refused too
            if math.isfinite(value):
                times.append(stamp.timestamp())
                values.append(value)
        if len(times) < 2:
            raise SourceError(f"replay {self.path.name}: fewer than two readable rows in column {self.column!r}")
        self._times, self._values = times, values

    def collect(self) -> dict[str, float]:
        if self._times is None:
            self._load()
        times, values = self._times, self._values
        assert times is not None
        span = times[-1] - times[0] + (times[-1] - times[-2])  # a loop lasts one step longer than the rows
        played = (time.time() - self.ends_at) % span
        # the newest recorded row at that point of the loop
        target = times[0] + played
        lo, hi = 0, len(times) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if times[mid] <= target:
                lo = mid
            else:
                hi = mid - 1
        value = values[lo]
        if self.metric in ("request_count", "active_users"):
            value = int(round(value))  # counts are whole numbers (the API refuses 12.0 for a count)
        return {self.metric: value}
