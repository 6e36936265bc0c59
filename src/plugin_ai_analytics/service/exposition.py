"""What ``/metrics`` says about the plugins, for Prometheus: per plugin and metric the forecast
(the next hour, and the 24 h peak, with bounds), the plugin's limit, the anomaly score, open
events by severity and tracked model accuracy; and alerting's own state.

Label cardinality is bounded: per-plugin series are exported for at most
``AI_ANALYTICS_METRICS_MAX_PLUGINS`` plugins (default 100; the ones with open anomalies and
forecasts first, then by id), about 30 series per plugin; ``plugin_ai_analytics_plugins_not_exported``
counts the rest. Computed at most every ``CACHE_SECONDS`` whatever the scrape rate.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..config import Settings
from ..domain import FORECAST_METRICS
from ..store import Store
from ..times import DAY_MS, HOUR_MS, now_ms
from .alerting import Alerting
from .conditions import judged_limits
from .detection import Detection

__all__ = ["Exposition"]

CACHE_SECONDS = 10.0
ACCURACY_WINDOW_DAYS = 7
_NEXT_HOUR_WINDOW_MS = HOUR_MS // 2  # the first forecast point found within half an hour after now + 1 h

Family = dict[str, Any]  # {"name", "help", "type": gauge|counter, "samples": [(labels, value)]}


class Exposition:
    def __init__(self, *, store: Store, settings: Settings, detection: Detection, alerting: Alerting) -> None:
        # Like the health overview, it reads across record kinds in aggregate queries.
        self._store = store
        self._settings = settings
        self._detection = detection
        self._alerting = alerting
        self._held: tuple[float, list[Family]] | None = None
        self._lock = threading.Lock()

    def families(self) -> list[Family]:
        with self._lock:
            if self._held is None or time.monotonic() - self._held[0] >= CACHE_SECONDS:
                self._held = (time.monotonic(), self._compute())
            return self._held[1]

    def _compute(self) -> list[Family]:
        from ..forecast import accuracy_from_sums  # start-up cost: the engines load on first use

        store, now = self._store, now_ms()
        try:
            plugins = {p["plugin_id"]: p for p in store.plugins.all()}
        except Exception:
            return [_family("database_up", "1 when the service reaches its database", [({}, 0.0)])]
        horizon = int(self._settings.prediction_horizon_hours * HOUR_MS)
        extremes = store.predictions.forecast_extremes(now, horizon)
        next_hour = store.predictions.points_at(now + HOUR_MS, _NEXT_HOUR_WINDOW_MS, now - horizon)
        open_events = store.anomalies.counts("open")
        accuracy = store.predictions.error_totals(now - ACCURACY_WINDOW_DAYS * DAY_MS)
        scores = dict(self._detection.last_scores)

        def rank(pid: str) -> tuple:
            events = open_events.get(pid, {})
            return (-events.get("High", 0), -events.get("Medium", 0), -events.get("Low", 0), pid not in extremes, pid)

        chosen = sorted(plugins, key=rank)[: self._settings.metrics_max_plugins]
        ahead: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for (plugin_id, metric), point in sorted(next_hour.items()):
            ahead.setdefault(plugin_id, []).append((metric, point))
        forecast_next, forecast_peak, limits, score, events, model = [], [], [], [], [], []
        for pid in sorted(chosen):
            for metric, point in ahead.get(pid, []):
                for bound, column in (("point", "value"), ("lower_95", "lower_95"), ("upper_95", "upper_95")):
                    forecast_next.append(({"plugin_id": pid, "metric": metric, "bound": bound}, point[column]))
            for metric, f in extremes.get(pid, {}).items():
                for bound, key in (("point", "peak"), ("upper_80", "upper_80"), ("upper_95", "upper_95")):
                    forecast_peak.append(({"plugin_id": pid, "metric": metric, "bound": bound}, f[key]))
            for metric, limit in judged_limits(plugins[pid]).items():
                if limit is not None:
                    limits.append(({"plugin_id": pid, "metric": metric}, limit))
            if pid in scores:
                overall, per_metric = scores[pid]
                score.append(({"plugin_id": pid, "metric": "all"}, overall))
                score.extend(({"plugin_id": pid, "metric": m}, v) for m, v in sorted(per_metric.items()))
            for severity in ("High", "Medium", "Low"):
                events.append(({"plugin_id": pid, "severity": severity}, open_events.get(pid, {}).get(severity, 0)))
            for metric, m in sorted(accuracy.get(pid, {}).items()):
                if metric in FORECAST_METRICS and m["abs_actual"] > 0:
                    value = float(accuracy_from_sums(m["abs_error"], m["abs_actual"]))
                    model.append(({"plugin_id": pid, "metric": metric}, value))
        counts = self._alerting.summary_counts()
        return [
            _family("database_up", "1 when the service reaches its database", [({}, 1.0)]),
            _family("plugins_exported", "plugins whose series are exported here", [({}, len(chosen))]),
            _family(
                "plugins_not_exported",
                "plugins left out by AI_ANALYTICS_METRICS_MAX_PLUGINS (label cardinality cap)",
                [({}, len(plugins) - len(chosen))],
            ),
            _family("forecast_next_hour", "forecast value one hour ahead, with its 95 % bounds", forecast_next),
            _family(
                "forecast_peak_24h",
                "highest forecast value over the horizon (24 h), and of its upper bounds",
                forecast_peak,
            ),
            _family("metric_limit", "the level at which the metric is a problem for the plugin (its limit)", limits),
            _family("anomaly_score", "anomaly score of the newest scored sample, 0..1 (metric=all: overall)", score),
            _family("open_anomalies", "open anomaly events by severity", events),
            _family("model_accuracy_percent", "tracked forecast accuracy, 100 x (1 - WAPE), last 7 days", model),
            _family(
                "alerts_firing",
                "firing alerts by severity",
                [({"severity": s}, n) for s, n in counts["firing"].items()],
            ),
            _family(
                "alert_notifications",
                "notifications in the outbox by state (pending, delivered, dead)",
                [({"state": s}, n) for s, n in counts["outbox"].items()],
            ),
            _family(
                "alert_delivery_attempts",
                "delivery attempts by this process, by outcome",
                [({"outcome": o}, counts["outcomes"].get(o, 0)) for o in ("delivered", "retried", "dead")],
                kind="counter",
            ),
        ]


def _family(name: str, help_text: str, samples: list[tuple[dict[str, str], float]], kind: str = "gauge") -> Family:
    return {"name": f"plugin_ai_analytics_{name}", "help": help_text, "type": kind, "samples": samples}
