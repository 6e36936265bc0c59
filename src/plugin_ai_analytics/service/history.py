"""Reading a plugin's metrics back: the API's history page, and the window the analyses read
(one frame of the newest days, indexed by UTC time)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..domain import METRIC_NAMES
from ..errors import ValidationError
from ..schemas import MetricsPage
from ..store import METRIC_COLUMNS, MetricRecords, PluginRecords
from ..times import DAY_MS, ms_to_iso, parse_resolution, to_ms

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["History", "MAX_HISTORY_PAGE", "TRAINING_WINDOW_DAYS", "frame_of"]

MAX_HISTORY_PAGE = 10_000
# The engine picks models by backtests on this much history; more adds time, not accuracy.
TRAINING_WINDOW_DAYS = 28


def frame_of(rows: list[tuple]) -> pd.DataFrame:
    """``METRIC_COLUMNS`` rows as a frame indexed by UTC time, one column per metric (no columns
    at all without rows: analyses then say "no data" rather than "metric absent")."""
    import pandas as pd  # start-up cost: the CLI's quick commands never build frames

    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame.from_records(rows, columns=list(METRIC_COLUMNS), coerce_float=True)
    frame.index = pd.to_datetime(frame.pop("ts"), unit="ms", utc=True)
    return frame


class History:
    def __init__(self, metrics: MetricRecords, plugins: PluginRecords) -> None:
        self._metrics = metrics
        self._plugins = plugins

    def page(
        self,
        plugin_id: str,
        *,
        start: Any = None,
        end: Any = None,
        resolution: str | None = None,
        limit: int = 1000,
        offset: int = 0,
        metrics: Sequence[str] | None = None,
    ) -> MetricsPage:
        """Samples in ``[start, end)``, raw or averaged per bucket in SQL, a page at a time."""
        self._plugins.require(plugin_id)
        if not 1 <= limit <= MAX_HISTORY_PAGE:
            raise ValidationError(f"limit must be between 1 and {MAX_HISTORY_PAGE}", field="limit")
        if offset < 0:
            raise ValidationError("offset must be >= 0", field="offset")
        chosen = tuple(metrics) if metrics else METRIC_NAMES
        for name in chosen:
            if name not in METRIC_NAMES:
                raise ValidationError(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}", field="metrics")
        start_ms, end_ms = to_ms(start), to_ms(end)
        # 'to' at or before 'from' is an empty range: an empty page, like any range without samples
        resolution_ms = parse_resolution(resolution)
        rows = self._metrics.history(
            plugin_id,
            start_ms=start_ms,
            end_ms=end_ms,
            resolution_ms=resolution_ms,
            limit=limit,
            offset=offset,
            metrics=chosen,
        )
        for row in rows:
            row["timestamp"] = ms_to_iso(row.pop("ts"))
        return MetricsPage(
            plugin_id=plugin_id,
            resolution="raw" if resolution_ms is None else f"{resolution_ms // 1000}s",
            from_=ms_to_iso(start_ms),
            to=ms_to_iso(end_ms),
            count=len(rows),
            next_offset=offset + len(rows) if len(rows) == limit else None,
            metrics=list(chosen),
            samples=rows,
        )

    def frame(self, plugin_id: str, *, days: float = TRAINING_WINDOW_DAYS) -> pd.DataFrame:
        """The plugin's newest ``days`` of samples as a frame indexed by UTC time (one column per
        metric); empty for a registered plugin without samples, ``NotFound`` for an unknown one."""
        return frame_of(self.window(plugin_id, days=days))

    def window(self, plugin_id: str, *, days: float = TRAINING_WINDOW_DAYS) -> list[tuple]:
        """The rows behind ``frame`` (``METRIC_COLUMNS`` tuples, oldest first): read once, they can
        feed every analysis of a pass (batch analysis shares them between forecast, detect and
        suggest)."""
        extent = self._metrics.extent(plugin_id)
        if not extent["samples"]:
            self._plugins.require(plugin_id)
            return []
        return self._metrics.rows(plugin_id, start_ms=extent["last_ts"] - int(days * DAY_MS))
