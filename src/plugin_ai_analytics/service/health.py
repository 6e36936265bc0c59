"""Health at a glance for the dashboard: per plugin, open anomalies by severity, the risk the
current 24 h forecast shows, model accuracy and data freshness, folded into one health verdict.

The rules, in the operator's words (every threshold is a constant below):

- limits (``conditions.judged_limits``): CPU 90 % of the plugin's own allocation
  (``cpu_limit_percent``), memory 90 % of its ``memory_limit_mb``, error rate 5 %; a limit the
  plugin does not have is *unknown* (never the host's cores) and nothing is judged against it;
- forecast risk **high**: the point forecast reaches a limit within the horizon;
  **medium**: only the 95% upper bound reaches it, or the error-rate forecast rises
  (last quarter of the horizon ≥ 1.5 × the first quarter, and by at least 0.1 point);
- health **critical**: an open High anomaly, a high forecast risk, or an ongoing condition (the
  last hour at a limit: CPU saturated, memory at its limit, 5 % of requests failing), however
  long ago it began; **warning**: an open Medium/Low anomaly, a medium forecast risk, stale data
  (no sample for 3 intervals), or tracked accuracy below 70%; **ok** otherwise; **no_data**
  without samples.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..domain import FORECAST_METRICS
from ..schemas import HealthRow, PluginHealth, PluginsOverview
from ..store import Store
from ..times import DAY_MS, ms_to_iso, now_ms
from .conditions import CONDITION_WINDOW_MS, CPU_BUSY_SHARE, ERROR_RATE_LIMIT, judged_limits, ongoing_conditions
from .forecasts import Forecasts
from .sources import Sources

__all__ = ["Health", "THRESHOLDS", "forecast_risks"]

ERROR_RISE_FACTOR = 1.5
ERROR_RISE_MIN = 0.001
STALE_INTERVALS = 3
ACCURACY_WARNING = 70.0
ACCURACY_WINDOW_DAYS = 7
CACHE_SECONDS = 60
EXTENTS_SECONDS = 10

THRESHOLDS = {
    "cpu_busy_share": CPU_BUSY_SHARE,  # of the plugin's own CPU allocation
    "error_rate_limit": ERROR_RATE_LIMIT,
    "error_rise_factor": ERROR_RISE_FACTOR,
    "stale_intervals": STALE_INTERVALS,
    "accuracy_warning_percent": ACCURACY_WARNING,
    "accuracy_window_days": ACCURACY_WINDOW_DAYS,
}


class Health:
    def __init__(self, *, store: Store, settings: Settings, sources: Sources, forecasts: Forecasts) -> None:
        # It reads across every record kind at once (a fixed handful of aggregate queries).
        self._store = store
        self._settings = settings
        self._sources = sources
        self._forecasts = forecasts
        self._cache = _Cache()

    def overview(self) -> PluginsOverview:
        """Every plugin's health row, in a fixed number of queries whatever the plugin count."""
        now = now_ms()
        rows = self._rows(now, None)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["health"]] = counts.get(row["health"], 0) + 1
        return PluginsOverview(
            generated_at=ms_to_iso(now),
            cpu_cores=self._settings.effective_cpu_cores,
            thresholds=THRESHOLDS,
            health_counts=counts,
            plugins=[HealthRow(**row) for row in rows],
        )

    def plugin(self, plugin_id: str) -> PluginHealth:
        """One plugin's health row plus its models and the tracked accuracy per day."""
        from ..forecast import accuracy_from_sums  # start-up cost: the engines load on first use

        now = now_ms()
        self._store.plugins.require(plugin_id)
        row = self._rows(now, plugin_id)[0]
        models = {}
        for m in self._store.models.active(plugin_id):
            backtest = (m.get("quality") or {}).get("backtest") or {}
            models[m["metric"]] = {
                "model": m["model_name"],
                "version": m["version"],
                "trained_at": ms_to_iso(m["trained_at"]),
                "backtest": {k: backtest.get(k) for k in ("accuracy", "mase", "coverage_80", "coverage_95")},
            }
        daily = self._store.predictions.daily_error_totals(plugin_id, now - 14 * DAY_MS)
        row["training"] = self._forecasts.readiness(plugin_id)
        row["models"] = models
        row["accuracy_daily"] = {
            metric: [
                {
                    "day": ms_to_iso(d["day_ts"])[:10],
                    "accuracy_percent": round(float(accuracy_from_sums(d["abs_error"], d["abs_actual"])), 2),
                    "scored": d["scored"],
                }
                for d in days
            ]
            for metric, days in daily.items()
        }
        row["thresholds"] = THRESHOLDS
        row["cpu_cores"] = self._settings.effective_cpu_cores
        row["generated_at"] = ms_to_iso(now)
        return PluginHealth(**row)

    def _rows(self, now: int, plugin_id: str | None) -> list[dict[str, Any]]:
        store = self._store
        if plugin_id is None:
            plugins = store.plugins.all()
            # Counting every plugin's samples scans the whole metrics index (seconds at 10 M rows):
            # done at most every EXTENTS_SECONDS, not once per dashboard refresh.
            extents = self._cache.get("extents", None, store.metrics.extents, max_age=EXTENTS_SECONDS)
        else:
            plugins = [store.plugins.require(plugin_id)]
            extents = {plugin_id: store.metrics.extent(plugin_id)}
        open_counts = store.anomalies.counts("open")
        recent = store.anomalies.started_since(now - DAY_MS, plugin_id)
        horizon_ms = int(self._settings.prediction_horizon_hours * 3_600_000)
        since = now - ACCURACY_WINDOW_DAYS * DAY_MS
        if plugin_id is None:
            # The two scans over stored predictions are most of the overview's cost: reuse them
            # while no forecast was stored (and for at most a minute: targets slide into the past,
            # the scoring job runs every minute).
            version = store.predictions.version()
            accuracy = self._cache.get("accuracy", None, lambda: store.predictions.error_totals(since))
            levels = self._cache.get("levels", None, lambda: store.metrics.recent_levels(now - CONDITION_WINDOW_MS))
            forecasts = self._cache.get(
                "forecasts", version, lambda: store.predictions.forecast_extremes(now, horizon_ms)
            )
        else:
            accuracy = store.predictions.error_totals(since, plugin_id)
            levels = store.metrics.recent_levels(now - CONDITION_WINDOW_MS, plugin_id)
            forecasts = store.predictions.forecast_extremes(now, horizon_ms, plugin_id)
        backtests: dict[str, list[float]] = {}
        for m in store.models.active(plugin_id):
            value = ((m.get("quality") or {}).get("backtest") or {}).get("accuracy")
            if value is not None:
                backtests.setdefault(m["plugin_id"], []).append(float(value))
        first_crossing = store.predictions.first_crossing
        rows = []
        for plugin in plugins:
            pid = plugin["plugin_id"]
            extent = extents.get(pid) or {"samples": 0, "first_ts": None, "last_ts": None}
            last = extent["last_ts"]
            interval_ms = float(plugin["interval_seconds"] or 60.0) * 1000
            age_ms = None if last is None else max(0, now - last)
            stale = age_ms is not None and age_ms > STALE_INTERVALS * interval_ms
            anomalies = {s: open_counts.get(pid, {}).get(s, 0) for s in ("High", "Medium", "Low")}
            tracked = _pooled_accuracy(accuracy.get(pid, {}))
            backtest = backtests.get(pid)
            limits = judged_limits(plugin)
            conditions = ongoing_conditions(levels.get(pid, {}), plugin)
            forecast = forecasts.get(pid, {})
            known = {metric: limit for metric, limit in limits.items() if limit is not None}
            risks = forecast_risks(
                forecast, known, lambda metric, column, limit, pid=pid: first_crossing(pid, metric, column, limit, now)
            )
            risk = "none" if forecast else None
            if any(r["level"] == "high" for r in risks):
                risk = "high"
            elif risks:
                risk = "medium"
            reasons = []
            if anomalies["High"]:
                reasons.append("open_high_anomaly")
            if risk == "high":
                reasons.append("forecast_crosses_limit")
            reasons.extend(c["kind"] for c in conditions)
            critical = bool(reasons)
            source_status = self._sources.status(pid) if plugin.get("source") else None
            if source_status is not None and not source_status.ok:
                reasons.append("source_failing")
            if anomalies["Medium"] or anomalies["Low"]:
                reasons.append("open_anomaly")
            if risk == "medium":
                reasons.append("forecast_may_cross_limit")
            if stale:
                reasons.append("stale_data")
            if tracked["accuracy_percent"] is not None and tracked["accuracy_percent"] < ACCURACY_WARNING:
                reasons.append("low_accuracy")
            if not extent["samples"]:
                health = "no_data"
            elif critical:
                health = "critical"
            elif reasons:
                health = "warning"
            else:
                health = "ok"
            source = plugin["source"]
            rows.append(
                {
                    "plugin_id": pid,
                    "name": plugin["name"],
                    "description": plugin["description"],
                    "source": source.get("type") if isinstance(source, dict) else None,
                    "interval_seconds": plugin["interval_seconds"],
                    "memory_limit_mb": plugin["memory_limit_mb"],
                    "samples": extent["samples"],
                    "first_sample": ms_to_iso(extent["first_ts"]),
                    "last_sample": ms_to_iso(last),
                    "age_seconds": None if age_ms is None else round(age_ms / 1000, 1),
                    "stale": stale,
                    "open_anomalies": anomalies,
                    "anomalies_24h": sum(recent.get(pid, {}).values()),
                    "accuracy": {
                        "tracked_percent": tracked["accuracy_percent"],
                        "scored_predictions": tracked["scored"],
                        "backtest_percent": None if not backtest else round(sum(backtest) / len(backtest), 2),
                        "trained_metrics": len(backtest or []),
                    },
                    "forecast": {
                        "made_at": ms_to_iso(max((f["made_at"] for f in forecast.values()), default=None)),
                        "until": ms_to_iso(max((f["to_ts"] for f in forecast.values()), default=None)),
                        "metrics": sorted(forecast),
                        "risk": risk,
                        "risks": risks,
                    },
                    "limits": limits,
                    "conditions": conditions,
                    "source_status": source_status,
                    "health": health,
                    "reasons": reasons,
                }
            )
        return rows


class _Cache:
    """A value with the key it was computed for, kept for ``CACHE_SECONDS``."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Any, Any]] = {}
        self._computing: set[str] = set()
        self._lock = threading.Lock()

    def get(self, name: str, key: Any, compute: Callable[[], Any], *, max_age: float = CACHE_SECONDS) -> Any:
        """The kept value while fresh; when it is not, one caller computes it again and callers
        meanwhile get the previous one (under load, overviews must not pile up on the same scan)."""
        with self._lock:
            entry = self._entries.get(name)
            usable = entry is not None and entry[1] == key
            if usable and time.monotonic() - entry[0] < max_age:
                return entry[2]
            if usable and name in self._computing:
                return entry[2]
            self._computing.add(name)
        try:
            value = compute()
        finally:
            with self._lock:
                self._computing.discard(name)
        with self._lock:
            self._entries[name] = (time.monotonic(), key, value)
        return value


def _pooled_accuracy(per_metric: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Accuracy pooled over the metrics, each weighted equally (one WAPE per metric)."""
    from ..forecast import accuracy_from_sums  # start-up cost: the engines load on first use

    values = [
        float(accuracy_from_sums(m["abs_error"], m["abs_actual"]))
        for metric, m in per_metric.items()
        if metric in FORECAST_METRICS and m["abs_actual"] > 0
    ]
    return {
        "accuracy_percent": round(sum(values) / len(values), 2) if values else None,
        "scored": int(sum(m["scored"] for m in per_metric.values())),
    }


def forecast_risks(
    forecast: dict[str, dict[str, Any]],
    limits: dict[str, float],
    first_crossing: Callable[[str, str, float], int | None],
) -> list[dict[str, Any]]:
    """The limits a plugin's current forecast (``forecast_extremes`` per metric) reaches or may
    reach, and a rising error rate; ``first_crossing(metric, column, limit)`` says when."""
    risks = []
    for metric, limit in limits.items():
        f = forecast.get(metric)
        if f is None:
            continue
        if f["peak"] >= limit:
            risks.append(_risk(metric, "limit", "high", f["peak"], limit, first_crossing(metric, "value", limit)))
        elif f["upper_95"] >= limit:
            at = first_crossing(metric, "upper_95", limit)
            risks.append(_risk(metric, "limit", "medium", f["upper_95"], limit, at))
    errors = forecast.get("error_rate")
    if errors and errors["early_mean"] is not None and errors["late_mean"] is not None:
        early, late = errors["early_mean"], errors["late_mean"]
        if late >= early * ERROR_RISE_FACTOR and late - early >= ERROR_RISE_MIN:
            if not any(r["metric"] == "error_rate" for r in risks):
                risk = _risk("error_rate", "rising", "medium", late, None, None)
                risk["from_value"] = early
                risks.append(risk)
    return risks


def _risk(metric: str, kind: str, level: str, value: float, limit: float | None, at: int | None) -> dict[str, Any]:
    return {"metric": metric, "kind": kind, "level": level, "value": value, "limit": limit, "at": ms_to_iso(at)}
