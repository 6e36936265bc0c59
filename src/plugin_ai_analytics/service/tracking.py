"""Forecast tracking: stored predictions scored against the actual values as they arrive, the
online correction of interval widths from that scoring (adaptive conformal inference, see
``forecast/_adaptive.py``), tracked accuracy per metric, and the retraining rule built on it."""

from __future__ import annotations

import bisect
import logging
from typing import Any

from ..config import Settings
from ..logs import log_event
from ..schemas import TrackedAccuracy
from ..store import METRIC_COLUMNS, IntervalAdaptations, MetricRecords, ModelRecords, PredictionRecords
from ..times import DAY_MS, HOUR_MS, now_ms
from .forecasts import Forecasts

__all__ = ["RETRAIN_BELOW_ACCURACY", "Tracking"]

# Accuracy below this (the seed's 70%) over the last day of scored predictions forces a retrain.
RETRAIN_BELOW_ACCURACY = 70.0


class Tracking:
    def __init__(
        self,
        *,
        settings: Settings,
        metrics: MetricRecords,
        models: ModelRecords,
        predictions: PredictionRecords,
        adaptation: IntervalAdaptations | None,
        forecasts: Forecasts,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._models = models
        self._predictions = predictions
        self._adaptation = adaptation
        self._forecasts = forecasts

    def score_due(self) -> int:
        """Attach actuals to predictions whose target time has passed (nearest sample within half
        a step); returns how many were scored."""
        pending = self._predictions.unscored(now_ms())
        if not pending:
            return 0
        by_plugin: dict[str, list[dict[str, Any]]] = {}
        for p in pending:
            by_plugin.setdefault(p["plugin_id"], []).append(p)
        column = {name: i for i, name in enumerate(METRIC_COLUMNS)}
        scored: list[tuple[int, float]] = []
        tolerance = 150_000  # half of the common 5-minute step
        for plugin_id, preds in by_plugin.items():
            lo = min(p["target_ts"] for p in preds) - HOUR_MS
            hi = max(p["target_ts"] for p in preds) + HOUR_MS
            samples = [r for chunk in self._metrics.chunks(plugin_id, start_ms=lo, end_ms=hi) for r in chunk]
            if not samples:
                continue
            times = [s[0] for s in samples]
            for p in preds:
                i = bisect.bisect_left(times, p["target_ts"])
                best = None
                for j in (i - 1, i):
                    if 0 <= j < len(samples) and abs(times[j] - p["target_ts"]) <= tolerance:
                        value = samples[j][column[p["metric"]]]
                        if value is not None and (best is None or abs(times[j] - p["target_ts"]) < best[0]):
                            best = (abs(times[j] - p["target_ts"]), value)
                if best is not None:
                    scored.append((p["id"], float(best[1])))
                    p["actual"] = float(best[1])
        if scored:
            self._predictions.score(scored)
            for plugin_id, preds in by_plugin.items():
                self._adapt(plugin_id, [p for p in preds if "actual" in p])
        return len(scored)

    def _adapt(self, plugin_id: str, scored: list[dict[str, Any]]) -> None:
        """Move each metric's interval factors by its newly scored predictions (oldest first):
        wider after misses beyond the nominal rate, narrower after more hits than nominal."""
        if self._adaptation is None or not scored:
            return
        import numpy as np  # start-up cost: numpy only once forecasts are scored

        from ..forecast import IntervalAdaptation  # start-up cost: the engines load on first use

        steps = {
            m["metric"]: float((m["quality"] or {}).get("step_seconds") or 300) for m in self._models.active(plugin_id)
        }
        current = self._forecasts.interval_adaptation(plugin_id)
        by_metric: dict[str, list[dict[str, Any]]] = {}
        for p in sorted(scored, key=lambda p: p["target_ts"]):
            by_metric.setdefault(p["metric"], []).append(p)
        rows = []
        for metric, ps in by_metric.items():
            actual = np.array([p["actual"] for p in ps])
            inside = {
                level: (np.array([p[f"lower_{level}"] for p in ps]) <= actual)
                & (actual <= np.array([p[f"upper_{level}"] for p in ps]))
                for level in (80, 95)
            }
            new = current.get(metric, IntervalAdaptation()).update(
                inside[80], inside[95], step_seconds=steps.get(metric, 300.0)
            )
            rows.append(
                {
                    "metric": metric,
                    "scale_80": new.scale_80,
                    "scale_95": new.scale_95,
                    "scored": new.scored,
                    "last_target_ts": int(ps[-1]["target_ts"]),
                }
            )
        self._adaptation.save(plugin_id, rows)

    def accuracy(self, plugin_id: str, *, days: float = 7) -> dict[str, TrackedAccuracy]:
        """Rolling accuracy, MASE and interval coverage of scored predictions, per metric."""
        import numpy as np  # start-up cost: numpy only once forecasts are scored

        from ..forecast import accuracy_from_sums  # start-up cost: the engines load on first use

        rows = self._predictions.scored(plugin_id, now_ms() - int(days * DAY_MS))
        by_metric: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_metric.setdefault(r["metric"], []).append(r)
        scales = self._seasonal_scales(plugin_id)
        out: dict[str, TrackedAccuracy] = {}
        for metric, rs in by_metric.items():
            actual = np.array([r["actual"] for r in rs])
            value = np.array([r["value"] for r in rs])
            abs_error = float(np.abs(actual - value).sum())
            scale = scales.get(metric)
            out[metric] = TrackedAccuracy(
                scored_predictions=len(rs),
                accuracy_percent=round(float(accuracy_from_sums(abs_error, float(np.abs(actual).sum()))), 2),
                coverage_80=round(float(np.mean([(r["lower_80"] <= r["actual"] <= r["upper_80"]) for r in rs])), 3),
                coverage_95=round(float(np.mean([(r["lower_95"] <= r["actual"] <= r["upper_95"]) for r in rs])), 3),
                mase=round(abs_error / len(rs) / scale, 3) if scale else None,
            )
        return out

    def _seasonal_scales(self, plugin_id: str) -> dict[str, float]:
        """Per metric, the in-sample daily seasonal-naive MAE of the model's training history (MASE's scale)."""
        out = {}
        for m in self._models.active(plugin_id):
            scale = (m["quality"] or {}).get("seasonal_scale")
            if scale:
                out[m["metric"]] = float(scale)
        return out

    # -- retraining --------------------------------------------------------------------------

    def retrain_due(self) -> list[str]:
        """Plugins whose models are older than MODEL_RETRAINING_INTERVAL, or whose tracked accuracy
        over the last day fell below 70% (and whose model predates that day, so a fresh model is
        not retrained in a loop)."""
        now = now_ms()
        interval = int(self._settings.model_retraining_interval_hours * HOUR_MS)
        due = []
        by_plugin: dict[str, list[dict[str, Any]]] = {}
        for m in self._models.active():
            by_plugin.setdefault(m["plugin_id"], []).append(m)
        for plugin_id, models in by_plugin.items():
            oldest = min(m["trained_at"] for m in models)
            if now - oldest >= interval:
                due.append(plugin_id)
                continue
            if now - oldest < DAY_MS:
                continue
            if any(
                a.accuracy_percent is not None
                and a.scored_predictions >= 12
                and a.accuracy_percent < RETRAIN_BELOW_ACCURACY
                for a in self.accuracy(plugin_id, days=1).values()
            ):
                due.append(plugin_id)
        return due

    def retrain_tick(self) -> None:
        for plugin_id in self.retrain_due():
            if self._forecasts.is_training(plugin_id):
                continue
            log_event(logging.INFO, "train_models", "retraining (interval or accuracy)", plugin=plugin_id)
            self._forecasts.submit_training(plugin_id)
