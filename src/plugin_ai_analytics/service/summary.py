"""The one-page summary of a plugin: current state, trends, daily pattern, latest forecasts,
open anomalies, top suggestions, model accuracy and data quality."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..domain import FORECAST_METRICS, METRIC_NAMES
from ..errors import InsufficientData
from ..schemas import AnalyticsSummary, MetricForecast
from ..store import MetricRecords, ModelRecords, PluginRecords, RejectionRecords
from ..times import DAY_MS, ms_to_iso, now_ms
from .advice import Advice
from .conditions import CONDITION_WINDOW_MS, ongoing_conditions
from .detection import Detection
from .forecasts import Forecasts
from .history import History
from .tracking import Tracking

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Summary", "data_quality", "trends"]

_PRIORITY = {"High": 0, "Medium": 1, "Low": 2}


class Summary:
    def __init__(
        self,
        *,
        plugins: PluginRecords,
        metrics: MetricRecords,
        models: ModelRecords,
        rejections: RejectionRecords,
        history: History,
        forecasts: Forecasts,
        tracking: Tracking,
        detection: Detection,
        advice: Advice,
    ) -> None:
        self._plugins = plugins
        self._metrics = metrics
        self._models = models
        self._rejections = rejections
        self._history = history
        self._forecasts = forecasts
        self._tracking = tracking
        self._detection = detection
        self._advice = advice

    def build(self, plugin_id: str) -> AnalyticsSummary:
        import numpy as np  # start-up cost: numpy only once a summary is asked for

        plugin = self._plugins.require(plugin_id)
        frame = self._history.frame(plugin_id, days=14)
        extent = self._metrics.extent(plugin_id)
        current: dict[str, Any] = {}
        if not frame.empty:
            for metric in METRIC_NAMES:
                if metric in frame.columns and frame[metric].notna().any():
                    series = frame[metric].dropna()
                    current[metric] = {"value": float(series.iloc[-1]), "at": series.index[-1].isoformat()}
        try:
            forecast = self._forecasts.latest(plugin_id)
        except InsufficientData:
            forecast = None
        forecasts = {}
        for metric, entry in (forecast.metrics if forecast else {}).items():
            if not isinstance(entry, MetricForecast) or not entry.forecast:
                continue
            points = entry.forecast
            peak = max(points, key=lambda p: p["value"])
            forecasts[metric] = {
                "model": entry.model,
                "next": points[0],
                "peak_24h": {"timestamp": peak["timestamp"], "value": peak["value"], "upper_95": peak["upper_95"]},
                "highest_upper_95": max(p["upper_95"] for p in points),
                "mean_confidence": round(float(np.mean([p["confidence"] for p in points])), 1),
            }
        open_anomalies = self._detection.history(plugin_id, state="open", limit=20)
        recent = self._detection.history(plugin_id, start_ms=now_ms() - 7 * DAY_MS, limit=100)
        suggestions = sorted(
            self._advice.records(plugin_id, limit=50), key=lambda s: (_PRIORITY.get(s.priority, 3), s.title)
        )
        models = {
            m["metric"]: {
                "model": m["model_name"],
                "version": m["version"],
                "trained_at": ms_to_iso(m["trained_at"]),
                "backtest": (m["quality"] or {}).get("backtest"),
            }
            for m in self._models.active(plugin_id)
        }
        return AnalyticsSummary(
            plugin_id=plugin_id,
            name=plugin["name"],
            generated_at=ms_to_iso(now_ms()),
            samples=extent["samples"],
            first_sample=ms_to_iso(extent["first_ts"]),
            last_sample=ms_to_iso(extent["last_ts"]),
            current=current,
            conditions=ongoing_conditions(
                self._metrics.recent_levels(now_ms() - CONDITION_WINDOW_MS, plugin_id).get(plugin_id, {}),
                plugin,
                frame,
            ),
            trends=trends(frame),
            forecasts=forecasts,
            forecast_made_at=forecast.made_at if forecast else None,
            anomalies={
                "open": open_anomalies,
                "last_7_days": {sev: sum(1 for a in recent if a.severity == sev) for sev in ("High", "Medium", "Low")},
            },
            suggestions=suggestions[:5],
            model_accuracy={"models": models, "tracked": self._tracking.accuracy(plugin_id, days=7)},
            data_quality=data_quality(plugin, frame, self._rejections),
        )


def trends(frame: pd.DataFrame) -> dict[str, Any]:
    """Per metric: slope per day over the last 7 days (Theil-Sen on hourly means, robust to spikes),
    change of the mean against the 7 days before, and the hour-of-day profile (UTC)."""
    if frame.empty:
        return {}
    import numpy as np  # start-up cost: the numerical stack loads on first use
    from scipy.stats import theilslopes

    end = frame.index[-1]
    out: dict[str, Any] = {}
    for metric in FORECAST_METRICS:
        if metric not in frame.columns:
            continue
        series = frame[metric].dropna()
        if len(series) < 24:
            continue
        week = series[series.index > end - np.timedelta64(7, "D")]
        before = series[(series.index <= end - np.timedelta64(7, "D")) & (series.index > end - np.timedelta64(14, "D"))]
        hourly = week.resample("1h").mean().dropna()
        entry: dict[str, Any] = {"mean_7d": float(week.mean())}
        if len(hourly) >= 24:
            x = (hourly.index - hourly.index[0]).total_seconds().to_numpy() / 86400.0
            slope, _, lo, hi = theilslopes(hourly.to_numpy(), x)
            entry["slope_per_day"] = float(slope)
            entry["slope_per_day_95ci"] = [float(lo), float(hi)]
            entry["direction"] = "rising" if lo > 0 else ("falling" if hi < 0 else "flat")
        if len(before) >= 24 and before.mean() != 0:
            entry["mean_previous_7d"] = float(before.mean())
            entry["change_vs_previous_7d_percent"] = float(100 * (week.mean() - before.mean()) / abs(before.mean()))
        profile = week.groupby(week.index.hour).mean()
        if len(profile) == 24:
            entry["daily_pattern"] = {
                "by_hour_utc": [float(v) for v in profile.to_numpy()],
                "peak_hour_utc": int(profile.idxmax()),
                "trough_hour_utc": int(profile.idxmin()),
                "peak_to_trough": float(profile.max() / profile.min()) if profile.min() > 0 else None,
            }
        out[metric] = entry
    return out


def data_quality(plugin: dict[str, Any], frame: pd.DataFrame, rejections: RejectionRecords) -> dict[str, Any]:
    """Gaps (intervals over 2.5 sampling steps), staleness and rejected batches."""
    import numpy as np  # start-up cost: numpy only once a summary is asked for

    quality: dict[str, Any] = {"gaps_7d": 0, "longest_gap_minutes": 0.0, "stale": None, "step_seconds": None}
    rejected = rejections.counts(plugin["plugin_id"], since_ms=now_ms() - DAY_MS)
    quality["rejected_batches_24h"] = rejected.get(plugin["plugin_id"], 0)
    if len(frame) < 2:
        return quality
    times = frame.index.asi8 // 10**6
    diffs = np.diff(times)
    step = float(np.median(diffs))
    quality["step_seconds"] = step / 1000
    recent = diffs[times[1:] > times[-1] - 7 * DAY_MS]
    gaps = recent[recent > 2.5 * step]
    quality["gaps_7d"] = int(len(gaps))
    quality["longest_gap_minutes"] = float(gaps.max() / 60000) if len(gaps) else 0.0
    expected = plugin["interval_seconds"] * 1000 if plugin.get("source") else step
    age = now_ms() - int(times[-1])
    quality["last_sample_age_seconds"] = age / 1000
    quality["stale"] = bool(age > 3 * expected)
    quality["missing_share"] = {m: float(frame[m].isna().mean()) for m in FORECAST_METRICS if m in frame.columns}
    return quality
