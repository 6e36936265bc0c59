"""Forecast orchestration for the service: training (as jobs), the model registry cache,
24 h predictions, accuracy tracking of stored predictions, and the retraining rule.

The engine in ``forecast/`` is pure; this module feeds it history from the store and keeps
what it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from .domain import FORECAST_METRICS
from .errors import InsufficientData, ModelIntegrityError, NotFound
from .logs import log_event
from .store import now_ms

if TYPE_CHECKING:
    import pandas as pd

    from .service import AnalyticsService

__all__ = ["Forecasting"]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# The engine picks models by backtests on this much history; more adds time, not accuracy.
TRAINING_WINDOW_DAYS = 28
# Accuracy below this (the seed's 70%) over the last day of scored predictions forces a retrain.
RETRAIN_BELOW_ACCURACY = 70.0
FORECAST_CACHE_PLUGINS = 64


class Forecasting:
    def __init__(self, service: AnalyticsService) -> None:
        self._service = service
        self._store = service.store
        self._settings = service.settings
        self._cache: dict[tuple[str, str], tuple[int, Any]] = {}
        self._cache_lock = threading.Lock()
        self._training: set[str] = set()
        # plugin → (what its last forecast was made from, that forecast): served while unchanged.
        # Bounded (least recently used out): a forecast is ~0.5 MB and there may be thousands.
        self._basis: OrderedDict[str, tuple[tuple[Any, ...], dict[str, Any]]] = OrderedDict()

    @property
    def training_count(self) -> int:
        """Training jobs queued or running in this process."""
        return len(self._training)

    @property
    def horizon(self) -> pd.Timedelta:
        import pandas as pd

        return pd.Timedelta(hours=self._settings.prediction_horizon_hours)

    # -- history -----------------------------------------------------------------------------

    def history_frame(self, plugin_id: str, *, days: float = TRAINING_WINDOW_DAYS) -> pd.DataFrame:
        """The plugin's recent samples as a frame indexed by UTC time (one column per metric)."""
        import pandas as pd

        extent = self._store.metrics_extent(plugin_id)
        if not extent["samples"]:
            if self._store.get_plugin(plugin_id) is None:
                raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
            return pd.DataFrame()
        start = extent["last_ts"] - int(days * DAY_MS)
        columns, rows = self._store.metrics_arrays(plugin_id, start_ms=start)
        frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
        frame.index = pd.to_datetime(frame.pop("ts"), unit="ms", utc=True)
        return frame

    # -- training ----------------------------------------------------------------------------

    def train_now(self, plugin_id: str, progress: Any = None, *, predict_after: bool = True) -> dict[str, Any]:
        """Train every metric with enough history; store models and a fresh forecast."""
        from .forecast import train

        started = time.perf_counter()
        frame = self.history_frame(plugin_id)
        trained: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        metrics = [m for m in FORECAST_METRICS if m in frame.columns and frame[m].notna().any()]
        needed = 0
        for i, metric in enumerate(metrics):
            series = frame[metric].dropna()
            try:
                model = train(series, horizon=self.horizon, metric=metric)
            except InsufficientData as exc:
                skipped[metric] = exc.message
                needed = max(needed, int(exc.details.get("needed_hours") or 0))
                continue
            state = model.to_state()
            quality = {"backtest": state["backtest"]["chosen"], "step_seconds": state["step_seconds"]}
            version = self._store.save_model(
                plugin_id,
                metric,
                model.model,
                state,
                quality,
                int(series.index[0].value // 10**6),
                int(series.index[-1].value // 10**6),
            )
            with self._cache_lock:
                self._cache[(plugin_id, metric)] = (version, model)
            trained[metric] = {"model": model.model, "version": version, "backtest": state["backtest"]["chosen"]}
            if progress:
                progress((i + 1) / max(1, len(metrics)))
        if not trained:
            message = (
                f"insufficient data to train {plugin_id!r}: need {needed} more hours of history"
                if needed
                else f"plugin {plugin_id!r} has no metric history to train on"
            )
            log_event(logging.ERROR, "train_models", message, plugin=plugin_id)
            raise InsufficientData(message, plugin_id=plugin_id, needed_hours=needed, skipped=skipped)
        elapsed = time.perf_counter() - started
        log_event(
            logging.INFO, "train_models", "trained", plugin=plugin_id, metrics=len(trained), seconds=round(elapsed, 2)
        )
        made_at = self.predict(plugin_id, train_missing=False)["made_at"] if predict_after else None
        return {
            "plugin_id": plugin_id,
            "trained": trained,
            "skipped": skipped,
            "seconds": round(elapsed, 2),
            "predictions_made_at": made_at,
        }

    def submit_training(self, plugin_id: str) -> str:
        """Queue a training job; returns its id (poll ``/jobs/{id}``)."""
        if self._store.get_plugin(plugin_id) is None:
            raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
        self._training.add(plugin_id)

        def work(progress: Any) -> dict[str, Any]:
            try:
                return self.train_now(plugin_id, progress)
            finally:
                self._training.discard(plugin_id)

        return self._service.jobs.submit("train_models", plugin_id, work)

    def _model(self, plugin_id: str, metric: str) -> tuple[Any, dict[str, Any]] | None:
        from .forecast import TrainedForecaster

        loaded = self._store.load_model_state(plugin_id, metric)  # checksum verified here
        if loaded is None:
            return None
        state, info = loaded
        with self._cache_lock:
            cached = self._cache.get((plugin_id, metric))
        if cached and cached[0] == info["version"]:
            return cached[1], info
        model = TrainedForecaster.from_state(state)
        with self._cache_lock:
            self._cache[(plugin_id, metric)] = (info["version"], model)
        return model, info

    # -- prediction --------------------------------------------------------------------------

    def predict(self, plugin_id: str, *, train_missing: bool = True) -> dict[str, Any]:
        """24 h forecasts of every trained metric, stored for accuracy tracking."""
        models = {m["metric"]: m for m in self._store.active_models(plugin_id)}
        extent = self._store.metrics_extent(plugin_id)
        # The data (sample count and newest sample) and the models a forecast was made from: while
        # they are unchanged the stored forecast still stands and is served as is.
        basis = (extent["samples"], extent["last_ts"], tuple(sorted((m, v["version"]) for m, v in models.items())))
        with self._cache_lock:
            cached = self._basis.get(plugin_id)
            if models and cached is not None and cached[0] == basis:
                self._basis.move_to_end(plugin_id)
                return cached[1]
        import pandas as pd

        from .forecast._engine import FORECAST_COLUMNS

        frame = self.history_frame(plugin_id, days=TRAINING_WINDOW_DAYS)
        if not models and train_missing:
            self.train_now(plugin_id)  # raises InsufficientData (409) naming the hours needed
            return self.latest(plugin_id)
        made_at = now_ms()
        out: dict[str, Any] = {}
        rows = []
        for metric in models:
            if metric not in frame.columns:
                continue
            try:
                found = self._model(plugin_id, metric)
            except ModelIntegrityError as exc:
                log_event(logging.ERROR, "predict", exc.message, plugin=plugin_id)
                out[metric] = {"error": exc.message}
                continue
            if found is None:
                continue
            model, info = found
            try:
                forecast = model.predict(frame[metric].dropna()).to_frame()
            except InsufficientData as exc:
                out[metric] = {"error": exc.message}
                continue
            # Column-wise rather than one itertuples() record at a time: 288 points x 6 metrics
            # per predict made this loop a tenth of a warm batch's forecast time.
            targets = (pd.DatetimeIndex(forecast["timestamp"]).as_unit("ns").asi8 // 10**6).tolist()
            model_id = f"{metric}/v{info['version']}:{model.model}"[:128]
            # The engine's numeric columns (forecast, bands, confidence), in a stored row's order.
            numeric = [c for c in FORECAST_COLUMNS if c not in ("timestamp", "clipped")]
            columns = [forecast[c].to_numpy(dtype=float).tolist() for c in numeric]
            clipped = forecast["clipped"].to_numpy(dtype=bool).tolist()
            points = [
                {
                    "metric": metric,
                    "target_ts": target,
                    "value": value,
                    "lower_80": lo80,
                    "upper_80": up80,
                    "lower_95": lo95,
                    "upper_95": up95,
                    "confidence": conf,
                    "clipped": clip,
                    "model_id": model_id,
                }
                for target, value, lo80, up80, lo95, up95, conf, clip in zip(targets, *columns, clipped, strict=True)
            ]
            rows.extend(points)
            out[metric] = {"model": model.model, "version": info["version"], "points": points}
        if not rows and not out:
            raise InsufficientData(f"no trained models for {plugin_id!r}: POST train-models first", plugin_id=plugin_id)
        self._store.replace_predictions(plugin_id, made_at, rows)
        result = self._public(plugin_id, made_at, out)
        with self._cache_lock:
            self._basis[plugin_id] = (basis, result)
            self._basis.move_to_end(plugin_id)
            while len(self._basis) > FORECAST_CACHE_PLUGINS:
                self._basis.popitem(last=False)
        return result

    def latest(self, plugin_id: str) -> dict[str, Any]:
        rows = self._store.latest_predictions(plugin_id)
        if not rows:
            raise InsufficientData(f"no predictions for {plugin_id!r} yet", plugin_id=plugin_id)
        out: dict[str, Any] = {}
        for row in rows:
            entry = out.setdefault(
                row["metric"], {"model": row["model_id"].split(":", 1)[-1], "version": row["model_id"], "points": []}
            )
            entry["points"].append(row)
        return self._public(plugin_id, rows[0]["made_at"], out)

    def _public(self, plugin_id: str, made_at: int, out: dict[str, Any]) -> dict[str, Any]:
        from .service import ms_to_iso, ms_to_iso_many

        metrics = {}
        for metric, entry in out.items():
            if "error" in entry:
                metrics[metric] = entry
                continue
            stamps = ms_to_iso_many([p["target_ts"] for p in entry["points"]])
            metrics[metric] = {
                "model": entry["model"],
                "model_version": entry["version"],
                "forecast": [
                    {
                        "timestamp": stamp,
                        "value": p["value"],
                        "lower_80": p["lower_80"],
                        "upper_80": p["upper_80"],
                        "lower_95": p["lower_95"],
                        "upper_95": p["upper_95"],
                        "confidence": p["confidence"],
                        "clipped": p["clipped"],
                    }
                    for p, stamp in zip(entry["points"], stamps, strict=True)
                ],
            }
        return {
            "plugin_id": plugin_id,
            "made_at": ms_to_iso(made_at),
            "horizon_hours": self._settings.prediction_horizon_hours,
            "confidence_means": "backtest accuracy % (100 x (1 - WAPE)) of this model at that horizon step",
            "metrics": metrics,
        }

    # -- accuracy tracking -------------------------------------------------------------------

    def score_due(self) -> int:
        """Attach actuals to predictions whose target time has passed (nearest sample within half
        a step); returns how many were scored."""
        pending = self._store.unscored_predictions(now_ms())
        if not pending:
            return 0
        by_plugin: dict[str, list[dict[str, Any]]] = {}
        for p in pending:
            by_plugin.setdefault(p["plugin_id"], []).append(p)
        scored: list[tuple[int, float]] = []
        for plugin_id, preds in by_plugin.items():
            lo = min(p["target_ts"] for p in preds) - HOUR_MS
            hi = max(p["target_ts"] for p in preds) + HOUR_MS
            samples = [r for chunk in self._store.iter_metrics(plugin_id, start_ms=lo, end_ms=hi) for r in chunk]
            if not samples:
                continue
            import bisect

            times = [s["ts"] for s in samples]
            for p in preds:
                tolerance = 150_000  # half of the common 5-minute step
                i = bisect.bisect_left(times, p["target_ts"])
                best = None
                for j in (i - 1, i):
                    if 0 <= j < len(samples) and abs(times[j] - p["target_ts"]) <= tolerance:
                        value = samples[j].get(p["metric"])
                        if value is not None and (best is None or abs(times[j] - p["target_ts"]) < best[0]):
                            best = (abs(times[j] - p["target_ts"]), value)
                if best is not None:
                    scored.append((p["id"], float(best[1])))
        if scored:
            self._store.score_predictions(scored)
        return len(scored)

    def accuracy(self, plugin_id: str, *, days: float = 7) -> dict[str, Any]:
        """Rolling accuracy, MASE and interval coverage of scored predictions, per metric."""
        import numpy as np

        rows = self._store.scored_predictions(plugin_id, now_ms() - int(days * DAY_MS))
        out: dict[str, Any] = {}
        by_metric: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_metric.setdefault(r["metric"], []).append(r)
        for metric, rs in by_metric.items():
            actual = np.array([r["actual"] for r in rs])
            value = np.array([r["value"] for r in rs])
            denom = np.abs(actual).sum()
            wape = np.abs(actual - value).sum() / denom if denom > 0 else None
            entry: dict[str, Any] = {
                "scored_predictions": len(rs),
                "accuracy_percent": None if wape is None else round(100 * (1 - wape), 2),
                "coverage_80": round(float(np.mean([(r["lower_80"] <= r["actual"] <= r["upper_80"]) for r in rs])), 3),
                "coverage_95": round(float(np.mean([(r["lower_95"] <= r["actual"] <= r["upper_95"]) for r in rs])), 3),
                "mase": None,
            }
            scale = self._seasonal_scale(plugin_id, metric)
            if scale:
                entry["mase"] = round(float(np.mean(np.abs(actual - value)) / scale), 3)
            out[metric] = entry
        return out

    def _seasonal_scale(self, plugin_id: str, metric: str) -> float | None:
        """The in-sample daily seasonal-naive MAE of the model's training history (MASE's scale)."""
        models = {m["metric"]: m for m in self._store.active_models(plugin_id)}
        quality = (models.get(metric) or {}).get("quality") or {}
        scale = quality.get("backtest", {}).get("scale")
        return float(scale) if scale else None

    # -- retraining --------------------------------------------------------------------------

    def retrain_due(self) -> list[str]:
        """Plugins whose models are older than MODEL_RETRAINING_INTERVAL, or whose tracked accuracy
        over the last day fell below 70% (and whose model predates that day, so a fresh model is
        not retrained in a loop)."""
        now = now_ms()
        interval = int(self._settings.model_retraining_interval_hours * HOUR_MS)
        due = []
        by_plugin: dict[str, list[dict[str, Any]]] = {}
        for m in self._store.active_models():
            by_plugin.setdefault(m["plugin_id"], []).append(m)
        for plugin_id, models in by_plugin.items():
            oldest = min(m["trained_at"] for m in models)
            if now - oldest >= interval:
                due.append(plugin_id)
                continue
            if now - oldest < DAY_MS:
                continue
            accuracy = self.accuracy(plugin_id, days=1)
            if any(
                a["accuracy_percent"] is not None
                and a["scored_predictions"] >= 12
                and a["accuracy_percent"] < RETRAIN_BELOW_ACCURACY
                for a in accuracy.values()
            ):
                due.append(plugin_id)
        return due

    def retrain_tick(self) -> None:
        for plugin_id in self.retrain_due():
            if plugin_id in self._training:
                continue
            log_event(logging.INFO, "train_models", "retraining (interval or accuracy)", plugin=plugin_id)
            self.submit_training(plugin_id)
