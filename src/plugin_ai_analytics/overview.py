"""Health at a glance for the dashboard: per plugin, open anomalies by severity, the risk the
current 24 h forecast shows, model accuracy and data freshness, folded into one health verdict.

The rules, in the operator's words (every threshold is a constant below):

- forecast risk **high**: the point forecast reaches a limit within the horizon;
  **medium**: only the 95% upper bound reaches it, or the error-rate forecast rises
  (last quarter of the horizon ≥ 1.5 × the first quarter, and by at least 0.1 point);
  limits: CPU 90% of all cores, memory the plugin's ``memory_limit_mb`` (when set), error rate 5%;
- health **critical**: an open High anomaly, or a high forecast risk;
  **warning**: an open Medium/Low anomaly, a medium forecast risk, stale data (no sample for
  3 intervals), or tracked accuracy below 70%; **ok** otherwise; **no_data** without samples.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .domain import FORECAST_METRICS
from .errors import NotFound
from .store import now_ms
from .store import overview as queries

if TYPE_CHECKING:
    from .service import AnalyticsService

__all__ = ["plugins_overview", "plugin_overview", "THRESHOLDS"]

DAY_MS = 86_400_000
CPU_BUSY_SHARE = 0.9  # of 100 % × cores
ERROR_RATE_LIMIT = 0.05
ERROR_RISE_FACTOR = 1.5
ERROR_RISE_MIN = 0.001
STALE_INTERVALS = 3
ACCURACY_WARNING = 70.0
ACCURACY_WINDOW_DAYS = 7
CACHE_SECONDS = 60

THRESHOLDS = {
    "cpu_busy_share": CPU_BUSY_SHARE,
    "error_rate_limit": ERROR_RATE_LIMIT,
    "error_rise_factor": ERROR_RISE_FACTOR,
    "stale_intervals": STALE_INTERVALS,
    "accuracy_warning_percent": ACCURACY_WARNING,
    "accuracy_window_days": ACCURACY_WINDOW_DAYS,
}


def plugins_overview(service: AnalyticsService) -> dict[str, Any]:
    """Every plugin's health row, in a fixed number of queries whatever the plugin count."""
    now = now_ms()
    rows = _rows(service, now, None)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["health"]] = counts.get(row["health"], 0) + 1
    return {
        "generated_at": _iso(now),
        "cpu_cores": service.settings.effective_cpu_cores,
        "thresholds": THRESHOLDS,
        "health_counts": counts,
        "plugins": rows,
    }


def plugin_overview(service: AnalyticsService, plugin_id: str) -> dict[str, Any]:
    """One plugin's health row plus its models and the tracked accuracy per day."""
    now = now_ms()
    if service.store.get_plugin(plugin_id) is None:
        raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
    row = _rows(service, now, plugin_id)[0]
    models = {}
    for m in service.store.active_models(plugin_id):
        backtest = (m.get("quality") or {}).get("backtest") or {}
        models[m["metric"]] = {
            "model": m["model_name"],
            "version": m["version"],
            "trained_at": _iso(m["trained_at"]),
            "backtest": {k: backtest.get(k) for k in ("accuracy", "mase", "coverage_80", "coverage_95")},
        }
    daily = queries.daily_accuracy(service.store, plugin_id, now - 14 * DAY_MS)
    row["models"] = models
    row["accuracy_daily"] = {
        metric: [{**d, "day": _iso(d.pop("day_ts"))[:10]} for d in days] for metric, days in daily.items()
    }
    row["thresholds"] = THRESHOLDS
    row["cpu_cores"] = service.settings.effective_cpu_cores
    row["generated_at"] = _iso(now)
    return row


def _rows(service: AnalyticsService, now: int, plugin_id: str | None) -> list[dict[str, Any]]:
    store = service.store
    if plugin_id is None:
        plugins = store.list_plugins()
        extents = store.all_extents()
    else:
        plugins = [store.get_plugin(plugin_id)]
        extents = {plugin_id: store.metrics_extent(plugin_id)}
    open_counts = store.anomaly_counts("open")
    recent = queries.anomalies_started_since(store, now - DAY_MS, plugin_id)
    horizon_ms = int(service.settings.prediction_horizon_hours * 3_600_000)
    if plugin_id is None:
        # The two scans over stored predictions are most of the overview's cost: reuse them
        # while no forecast was stored (and for at most a minute: targets slide into the past,
        # the scoring job runs every minute).
        version = queries.predictions_version(store)
        accuracy = _cache.get(
            store, "accuracy", None, lambda: queries.tracked_accuracy(store, now - ACCURACY_WINDOW_DAYS * DAY_MS)
        )
        forecasts = _cache.get(store, "forecasts", version, lambda: queries.forecast_extremes(store, now, horizon_ms))
    else:
        accuracy = queries.tracked_accuracy(store, now - ACCURACY_WINDOW_DAYS * DAY_MS, plugin_id)
        forecasts = queries.forecast_extremes(store, now, horizon_ms, plugin_id)
    backtests: dict[str, list[float]] = {}
    for m in store.active_models(plugin_id):
        value = ((m.get("quality") or {}).get("backtest") or {}).get("accuracy")
        if value is not None:
            backtests.setdefault(m["plugin_id"], []).append(float(value))
    cpu_limit = 100.0 * service.settings.effective_cpu_cores * CPU_BUSY_SHARE
    rows = []
    for plugin in plugins:
        pid = plugin["plugin_id"]
        extent = extents.get(pid) or {"samples": 0, "first_ts": None, "last_ts": None}
        last = extent["last_ts"]
        interval_ms = float(plugin["interval_seconds"] or 60.0) * 1000
        age_ms = None if last is None else max(0, now - last)
        stale = age_ms is not None and age_ms > STALE_INTERVALS * interval_ms
        anomalies = {s: open_counts.get(pid, {}).get(s, 0) for s in ("High", "Medium", "Low")}
        anomalies_24h = sum(recent.get(pid, {}).values())
        tracked = _accuracy(accuracy.get(pid, {}))
        backtest = backtests.get(pid)
        limits = {"cpu_percent": cpu_limit, "error_rate": ERROR_RATE_LIMIT}
        if plugin.get("memory_limit_mb"):
            limits["memory_mb"] = float(plugin["memory_limit_mb"])
        risks = _risks(store, pid, forecasts.get(pid, {}), limits, now)
        forecast = forecasts.get(pid, {})
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
        critical = bool(reasons)
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
        rows.append(
            {
                "plugin_id": pid,
                "name": plugin["name"],
                "description": plugin["description"],
                "source": (plugin["source"] or {}).get("type") if isinstance(plugin["source"], dict) else None,
                "interval_seconds": plugin["interval_seconds"],
                "memory_limit_mb": plugin["memory_limit_mb"],
                "samples": extent["samples"],
                "first_sample": _iso(extent["first_ts"]),
                "last_sample": _iso(last),
                "age_seconds": None if age_ms is None else round(age_ms / 1000, 1),
                "stale": stale,
                "open_anomalies": anomalies,
                "anomalies_24h": anomalies_24h,
                "accuracy": {
                    "tracked_percent": tracked["accuracy_percent"],
                    "scored_predictions": tracked["scored"],
                    "backtest_percent": None if not backtest else round(sum(backtest) / len(backtest), 2),
                    "trained_metrics": len(backtest or []),
                },
                "forecast": {
                    "made_at": _iso(max((f["made_at"] for f in forecast.values()), default=None)),
                    "until": _iso(max((f["to_ts"] for f in forecast.values()), default=None)),
                    "metrics": sorted(forecast),
                    "risk": risk,
                    "risks": risks,
                },
                "health": health,
                "reasons": reasons,
            }
        )
    return rows


class _Cache:
    """Per store, a value with the key it was computed for, kept for ``CACHE_SECONDS``."""

    def __init__(self) -> None:
        self._entries: weakref.WeakKeyDictionary[Any, dict[str, tuple[float, Any, Any]]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, store: Any, name: str, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            entry = self._entries.setdefault(store, {}).get(name)
        if entry is not None and entry[1] == key and time.monotonic() - entry[0] < CACHE_SECONDS:
            return entry[2]
        value = compute()
        with self._lock:
            self._entries.setdefault(store, {})[name] = (time.monotonic(), key, value)
        return value


_cache = _Cache()


def _accuracy(per_metric: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Accuracy pooled over the metrics, each weighted equally (one WAPE per metric)."""
    values = [
        100 * (1 - m["abs_error"] / m["abs_actual"])
        for metric, m in per_metric.items()
        if metric in FORECAST_METRICS and m["abs_actual"] > 0
    ]
    return {
        "accuracy_percent": round(sum(values) / len(values), 2) if values else None,
        "scored": int(sum(m["scored"] for m in per_metric.values())),
    }


def _risks(
    store: Any, plugin_id: str, forecast: dict[str, dict[str, Any]], limits: dict[str, float], now: int
) -> list[dict[str, Any]]:
    risks = []
    for metric, limit in limits.items():
        f = forecast.get(metric)
        if f is None:
            continue
        if f["peak"] >= limit:
            at = queries.first_crossing(store, plugin_id, metric, "value", limit, now)
            risks.append(_risk(metric, "limit", "high", f["peak"], limit, at))
        elif f["upper_95"] >= limit:
            at = queries.first_crossing(store, plugin_id, metric, "upper_95", limit, now)
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
    return {"metric": metric, "kind": kind, "level": level, "value": value, "limit": limit, "at": _iso(at)}


def _iso(ms: int | None) -> str | None:
    from .service import ms_to_iso

    return ms_to_iso(ms)
