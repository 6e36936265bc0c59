"""Forecasting for the service: training (as jobs), the trained-model cache and 24 h predictions
(with the interval factors ``tracking.py`` learns and the plugin's limits). Scoring stored
predictions, their accuracy and the retraining rule live in ``tracking.py``.

The engine in ``forecast/`` is pure; this part feeds it history and keeps what it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..domain import FORECAST_METRICS, FORECAST_POINT_FIELDS
from ..errors import InsufficientData, ModelIntegrityError, NotTrained
from ..jobs.base import Executor
from ..jobs.executor import Progress
from ..logs import log_event
from ..schemas import (
    ForecastFailure,
    MetricForecast,
    PluginForecast,
    TrainedModel,
    TrainingReadiness,
)
from ..store import (
    IntervalAdaptations,
    MetricRecords,
    ModelRecords,
    PluginRecords,
    PredictionRecords,
)
from ..times import DAY_MS, iso_many, ms_to_iso, now_ms
from .history import TRAINING_WINDOW_DAYS, History, frame_of

if TYPE_CHECKING:
    import pandas as pd

    from ..forecast import IntervalAdaptation, TrainedForecaster

__all__ = ["Forecasts"]

FORECAST_CACHE_PLUGINS = 64
# Predict keeps the rows of this many plugins' windows and reads only what is newer than them
# (one new sample: one row instead of four weeks of them); a window is read whole again after
# WINDOW_REREAD_SECONDS, or at once when the samples it holds changed (a merge through this
# process, retention, a backfill).
WINDOW_CACHE_PLUGINS = 16
WINDOW_REREAD_SECONDS = 600.0
# The engine calls the point forecast "forecast"; a stored or served point calls it "value".
_ENGINE_COLUMN = {"value": "forecast"}
_POINT_KEYS = ("timestamp", *FORECAST_POINT_FIELDS)
CONFIDENCE_MEANS = "backtest accuracy % (100 x (1 - WAPE)) of this model at that horizon step"


class Forecasts:
    def __init__(
        self,
        *,
        settings: Settings,
        history: History,
        metrics: MetricRecords,
        models: ModelRecords,
        predictions: PredictionRecords,
        plugins: PluginRecords,
        jobs: Executor | None,
        adaptation: IntervalAdaptations | None = None,
    ) -> None:
        self._settings = settings
        self._history = history
        self._metrics = metrics
        self._models = models
        self._predictions = predictions
        self._plugins = plugins
        self._jobs = jobs
        self._adaptation = adaptation
        # (plugin, metric) → (checksum of the stored state, the model built from it)
        self._cache: dict[tuple[str, str], tuple[str, TrainedForecaster]] = {}
        self._cache_lock = threading.Lock()
        # plugin → (what its last forecast was made from, that forecast): served while unchanged.
        # Bounded (least recently used out): a forecast is ~0.5 MB and there may be thousands.
        self._basis: OrderedDict[str, tuple[tuple[Any, ...], PluginForecast]] = OrderedDict()
        # plugin -> (window rows, the plugin's sample count they go with, rewrites, monotonic read time)
        self._windows: OrderedDict[str, tuple[list[tuple], int, int, float]] = OrderedDict()
        # (plugin, metric) -> (when, why) of the newest forecast that could not be made; a forecast
        # that could clears it (alerting reads it: a prediction that failed)
        self.failures: dict[tuple[str, str], tuple[int, str]] = {}

    def is_training(self, plugin_id: str) -> bool:
        """Whether a training of the plugin is queued or running in this process."""
        return self._jobs is not None and self._jobs.is_active("train_models", plugin_id)

    @property
    def training_count(self) -> int:
        """Training jobs queued or running in this process."""
        return self._jobs.active_count("train_models") if self._jobs is not None else 0

    @property
    def horizon(self) -> pd.Timedelta:
        import pandas as pd  # start-up cost: pandas only once forecasting is used

        return pd.Timedelta(hours=self._settings.prediction_horizon_hours)

    # -- training ----------------------------------------------------------------------------

    def train_now(
        self,
        plugin_id: str,
        progress: Progress | None = None,
        *,
        predict_after: bool = True,
        frame: pd.DataFrame | None = None,
    ) -> dict:
        """Train every metric with enough history; store models and a fresh forecast (``frame``:
        ``History.frame``, when the caller has read it already)."""
        # start-up cost: the engines load on first use, not with the CLI
        from ..forecast import MODEL_POOLS, seasonal_scale, train

        started = time.perf_counter()
        if frame is None:
            frame = self._history.frame(plugin_id)
        trained: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        metrics = [m for m in FORECAST_METRICS if m in frame.columns and frame[m].notna().any()]
        needed = 0
        for i, metric in enumerate(metrics):
            series = frame[metric].dropna()
            try:
                model = train(
                    series, horizon=self.horizon, metric=metric, candidates=MODEL_POOLS[self._settings.forecast_models]
                )
            except InsufficientData as exc:
                skipped[metric] = exc.message
                needed = max(needed, int(exc.details.get("needed_hours") or 0))
                continue
            state = model.to_state()
            quality = {
                "backtest": state["backtest"]["chosen"],
                "step_seconds": state["step_seconds"],
                # MASE's denominator for tracked accuracy: the daily seasonal-naive MAE of this history
                "seasonal_scale": seasonal_scale(
                    series.to_numpy(dtype=float), round(DAY_MS / 1000 / state["step_seconds"])
                ),
            }
            version = self._models.save(
                plugin_id,
                metric,
                model.model,
                state,
                quality,
                int(series.index[0].value // 10**6),
                int(series.index[-1].value // 10**6),
            )
            trained[metric] = {"model": model.model, "version": version, "backtest": state["backtest"]["chosen"]}
            if progress:
                progress((i + 1) / max(1, len(metrics)))
        if not trained:
            message = (
                f"insufficient data to train {plugin_id!r}: need {needed} more hours of history"
                if needed
                else f"plugin {plugin_id!r} has no metric history to train on"
            )
            # Expected (a young plugin), answered 409 and said how much is needed: not an error.
            log_event(logging.WARNING, "train_models", message, plugin=plugin_id)
            raise InsufficientData(message, plugin_id=plugin_id, needed_hours=needed, skipped=skipped)
        elapsed = time.perf_counter() - started
        log_event(
            logging.INFO, "train_models", "trained", plugin=plugin_id, metrics=len(trained), seconds=round(elapsed, 2)
        )
        made_at = self.predict(plugin_id).made_at if predict_after else None
        return {
            "plugin_id": plugin_id,
            "trained": trained,
            "skipped": skipped,
            "seconds": round(elapsed, 2),
            "predictions_made_at": made_at,
        }

    def submit_training(self, plugin_id: str) -> str:
        """Queue a training job; returns its id (the one already queued or running, if any)."""
        return self.queue_training(plugin_id)[0]

    def queue_training(self, plugin_id: str) -> tuple[str, bool]:
        """Queue a training job unless one is queued or running: ``(job id, queued now)``."""
        self._plugins.require(plugin_id)
        if self._jobs is None:
            raise RuntimeError("this context runs no background jobs")
        return self._jobs.enqueue("train_models", plugin_id)

    def run_training(self, plugin_id: str, progress: Progress) -> dict[str, Any]:
        """What a training job runs, in whichever process the executor chose."""
        return self.train_now(plugin_id, progress)

    def _models_of(self, plugin_id: str) -> dict[str, tuple[TrainedForecaster, dict] | ModelIntegrityError]:
        """Every active model of the plugin, read in one query. Each stored text is verified
        against its checksum on every use (a tampered model is refused, not served from memory);
        it is parsed and rebuilt only when the checksum is not the one of the model already held."""
        from ..forecast import TrainedForecaster  # start-up cost: the engines load on first use

        with self._cache_lock:
            known = {m: self._cache[(plugin_id, m)][0] for m in FORECAST_METRICS if (plugin_id, m) in self._cache}
        out: dict[str, tuple[TrainedForecaster, dict] | ModelIntegrityError] = {}
        for metric, loaded in self._models.load_states(plugin_id, known).items():
            if isinstance(loaded, ModelIntegrityError):
                out[metric] = loaded
                continue
            state, info = loaded
            with self._cache_lock:
                cached = self._cache.get((plugin_id, metric))
            if state is None and cached:
                out[metric] = (cached[1], info)
                continue
            model = TrainedForecaster.from_state(state)
            with self._cache_lock:
                self._cache[(plugin_id, metric)] = (info["checksum"], model)
            out[metric] = (model, info)
        return out

    # -- prediction --------------------------------------------------------------------------

    def predict(self, plugin_id: str) -> PluginForecast:
        """24 h forecasts of every trained metric, stored for accuracy tracking.

        A read never trains (seconds of CPU inside a request): without models the newest stored
        forecast is served with its age, and without one either ``NotTrained`` (409) says what to
        do and how much history there is and is needed."""
        models = {m["metric"]: m for m in self._models.active(plugin_id)}
        if not models:
            return self._untrained(plugin_id)
        extent = self._metrics.extent(plugin_id)
        # The data (sample count and newest sample), the models, the plugin's limits and the
        # interval corrections a forecast was made from: while they are unchanged the stored
        # forecast still stands and is served as is.
        basis = (
            extent["samples"],
            extent["last_ts"],
            tuple(sorted((m, v["version"]) for m, v in models.items())),
            tuple(sorted(self._upper_limits(plugin_id).items())),
            tuple(sorted((m, a.scales) for m, a in self.interval_adaptation(plugin_id).items())),
        )
        with self._cache_lock:
            cached = self._basis.get(plugin_id)
            if models and cached is not None and cached[0] == basis:
                self._basis.move_to_end(plugin_id)
                return cached[1]
        made_at, computed = self._compute(plugin_id, models, frame_of(self._window(plugin_id, extent)))
        out: dict[str, MetricForecast | ForecastFailure] = {}
        for metric, entry in computed.items():
            if isinstance(entry, ForecastFailure):
                out[metric] = entry
                continue
            model_name, version, targets, columns = entry
            points = [dict(zip(_POINT_KEYS, p, strict=True)) for p in zip(iso_many(targets), *columns, strict=True)]
            out[metric] = MetricForecast(model=model_name, model_version=version, forecast=points)
        result = self._forecast(plugin_id, made_at, out)
        with self._cache_lock:
            self._basis[plugin_id] = (basis, result)
            self._basis.move_to_end(plugin_id)
            while len(self._basis) > FORECAST_CACHE_PLUGINS:
                self._basis.popitem(last=False)
        return result

    def _untrained(self, plugin_id: str) -> PluginForecast:
        """The answer of ``predict`` for a plugin without models: its newest stored forecast with
        its age, else 409 naming what is needed."""
        self._plugins.require(plugin_id)
        try:
            return self.latest(plugin_id).model_copy(update={"stored_only": True})
        except InsufficientData:  # none stored either
            pass
        ready = self.readiness(plugin_id)
        samples = self._metrics.extent(plugin_id)["samples"]
        training = self.is_training(plugin_id)
        queued = " (a training is queued or running: GET /api/plugin-ai-analytics/jobs)" if training else ""
        enough = (
            "enough to train now"
            if ready.ready
            else f"{ready.needed_hours:g} more hours of history are needed before it can train"
        )
        raise NotTrained(
            f"no model yet for {plugin_id!r}{queued}: POST /api/plugin-ai-analytics/train-models/{plugin_id} "
            f"(or a batch-analysis) to train it; {samples} samples ({ready.have_hours:g} hours) are stored, "
            f"{enough}",
            plugin_id=plugin_id,
            samples=samples,
            have_hours=ready.have_hours,
            needed_hours=ready.needed_hours,
            training=training,
        )

    def _window(self, plugin_id: str, extent: dict[str, Any]) -> list[tuple]:
        """``History.window`` of the plugin, read incrementally: the rows kept from the last call
        plus those stored after them, when the sample count says nothing else changed."""
        if not extent["samples"]:
            return self._history.window(plugin_id)
        start = extent["last_ts"] - int(TRAINING_WINDOW_DAYS * DAY_MS)
        rewrites = self._metrics.rewrites(plugin_id)
        now = time.monotonic()
        with self._cache_lock:
            cached = self._windows.get(plugin_id)
        rows, read_at = None, now
        if cached is not None and cached[0] and cached[2] == rewrites and now - cached[3] < WINDOW_REREAD_SECONDS:
            kept, samples, _, read_at = cached
            new = self._metrics.rows(plugin_id, start_ms=kept[-1][0] + 1)
            if samples + len(new) == extent["samples"] and (new[-1][0] if new else kept[-1][0]) == extent["last_ts"]:
                rows = kept[bisect_left(kept, (start,)) :] + new
        if rows is None:
            rows, read_at = self._metrics.rows(plugin_id, start_ms=start), now
        with self._cache_lock:
            self._windows[plugin_id] = (rows, extent["samples"], rewrites, read_at)
            self._windows.move_to_end(plugin_id)
            while len(self._windows) > WINDOW_CACHE_PLUGINS:
                self._windows.popitem(last=False)
        return rows

    def refresh(self, plugin_id: str, frame: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
        """Forecast every trained metric again and store it; per metric its model and 24 h peak
        (batch analysis: nothing is built for a client). ``frame``: ``History.frame`` of the
        ``TRAINING_WINDOW_DAYS``, when the caller has read it already."""
        models = {m["metric"]: m for m in self._models.active(plugin_id)}
        _, computed = self._compute(plugin_id, models, frame)
        return {
            metric: {"peak_24h": max(entry[3][0]), "model": entry[0]}
            for metric, entry in computed.items()
            if not isinstance(entry, ForecastFailure) and entry[2]
        }

    def _compute(
        self, plugin_id: str, models: dict[str, dict[str, Any]], frame: pd.DataFrame | None = None
    ) -> tuple[int, dict[str, ForecastFailure | tuple[str, int, list[int], list[list]]]]:
        """Run each metric's model on the newest history and store the points; per metric the
        model, its version, the target times and the ``FORECAST_POINT_FIELDS`` columns."""

        if frame is None:
            frame = self._history.frame(plugin_id, days=TRAINING_WINDOW_DAYS)
        limits = self._upper_limits(plugin_id)
        adapted = self.interval_adaptation(plugin_id)
        made_at = now_ms()
        computed: dict[str, ForecastFailure | tuple[str, int, list[int], list[list]]] = {}
        rows: list[tuple] = []
        loaded = self._models_of(plugin_id) if models else {}
        for metric in models:
            if metric not in frame.columns:
                continue
            try:
                found = loaded.get(metric)
                if isinstance(found, ModelIntegrityError):
                    raise found
            except ModelIntegrityError as exc:
                log_event(logging.ERROR, "predict", exc.message, plugin=plugin_id)
                computed[metric] = ForecastFailure(error=exc.message)
                if self._jobs is not None and not self.is_training(plugin_id):  # refused: retrain it (issue 14)
                    self.submit_training(plugin_id)
                self.failures[(plugin_id, metric)] = (made_at, exc.message)
                continue
            if found is None:
                continue
            model, info = found
            try:
                forecast = model.predict(
                    frame[metric].dropna(),
                    interval_scale=adapted[metric].scales if metric in adapted else (1.0, 1.0),
                    upper_limit=limits.get(metric),
                )
            except InsufficientData as exc:
                computed[metric] = ForecastFailure(error=exc.message)
                self.failures[(plugin_id, metric)] = (made_at, exc.message)
                continue
            self.failures.pop((plugin_id, metric), None)
            # Column-wise rather than one record at a time: 288 points x 6 metrics per predict.
            targets = forecast.timestamps_ms.tolist()
            columns = [forecast.values[_ENGINE_COLUMN.get(f, f)].tolist() for f in FORECAST_POINT_FIELDS]
            model_id = f"{metric}/v{info['version']}:{model.model}"[:128]
            n = len(targets)
            rows.extend(zip([metric] * n, targets, *columns, [model_id] * n, strict=True))
            computed[metric] = (model.model, info["version"], targets, columns)
        if not computed:
            raise InsufficientData(f"no trained models for {plugin_id!r}: POST train-models first", plugin_id=plugin_id)
        self._predictions.replace(plugin_id, made_at, rows)
        return made_at, computed

    def _upper_limits(self, plugin_id: str) -> dict[str, float]:
        """Per metric, the highest value the plugin can physically reach: its CPU limit (else the
        host's cores: ingestion refuses more), its memory limit when one is set. Forecast points
        and bounds above it are clipped and flagged (the range below comes with each metric)."""
        plugin = self._plugins.get(plugin_id) or {}
        cpu = plugin.get("cpu_limit_percent")
        limits = {"cpu_percent": float(cpu) if cpu else 100.0 * self._settings.effective_cpu_cores}
        if plugin.get("memory_limit_mb"):
            limits["memory_mb"] = float(plugin["memory_limit_mb"])
        return limits

    def interval_adaptation(self, plugin_id: str) -> dict[str, IntervalAdaptation]:
        """Per metric, the online factors on the model's 80 % / 95 % interval offsets."""
        from ..forecast import IntervalAdaptation  # start-up cost: the engines load on first use

        if self._adaptation is None:
            return {}
        return {
            metric: IntervalAdaptation(row["scale_80"], row["scale_95"], row["scored"])
            for metric, row in self._adaptation.of_plugin(plugin_id).items()
        }

    def latest(self, plugin_id: str) -> PluginForecast:
        """The newest stored forecast, as it was made."""
        rows = self._predictions.latest(plugin_id)
        if not rows:
            raise InsufficientData(f"no predictions for {plugin_id!r} yet", plugin_id=plugin_id)
        by_metric: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_metric.setdefault(row["metric"], []).append(row)
        out: dict[str, MetricForecast | ForecastFailure] = {}
        for metric, points in by_metric.items():
            model_id = points[0]["model_id"]  # "<metric>/v<version>:<model>"
            version = model_id.split(":", 1)[0].rsplit("/v", 1)[-1]
            stamps = iso_many([p["target_ts"] for p in points])
            out[metric] = MetricForecast(
                model=model_id.split(":", 1)[-1],
                model_version=int(version) if version.isdigit() else 0,
                forecast=[
                    {"timestamp": stamp, **{f: p[f] for f in FORECAST_POINT_FIELDS}}
                    for p, stamp in zip(points, stamps, strict=True)
                ],
            )
        return self._forecast(plugin_id, rows[0]["made_at"], out)

    def _forecast(self, plugin_id: str, made_at: int, out: dict[str, Any]) -> PluginForecast:
        return PluginForecast(
            plugin_id=plugin_id,
            made_at=ms_to_iso(made_at),
            horizon_hours=self._settings.prediction_horizon_hours,
            confidence_means=CONFIDENCE_MEANS,
            metrics=out,
        )

    def trained_models(self, plugin_id: str | None = None) -> list[TrainedModel]:
        """The active model of every trained metric (of one plugin, or of all)."""
        return [
            TrainedModel(
                plugin_id=m["plugin_id"],
                metric=m["metric"],
                model=m["model_name"],
                version=m["version"],
                trained_at=ms_to_iso(m["trained_at"]),
                backtest=(m["quality"] or {}).get("backtest"),
            )
            for m in self._models.active(plugin_id)
        ]

    def readiness(self, plugin_id: str) -> TrainingReadiness:
        """Whether training can run now and, if not, how many more hours of samples it needs."""
        from ..forecast import hours_needed  # start-up cost: the engines load on first use

        frame = self._history.frame(plugin_id)
        needs = {
            metric: hours_needed(frame[metric].dropna(), self.horizon)
            for metric in FORECAST_METRICS
            if metric in frame.columns and frame[metric].notna().any()
        }
        have, needed = min(needs.values(), key=lambda hn: hn[1]) if needs else (0.0, self._min_history_hours())
        return TrainingReadiness(
            trained=bool(self._models.active(plugin_id)),
            ready=needed == 0,
            needed_hours=round(needed, 1),
            have_hours=round(have, 1),
            metrics={metric: round(n, 1) for metric, (_, n) in needs.items()},
        )

    def _min_history_hours(self) -> float:
        import pandas as pd  # start-up cost: pandas only once forecasting is used

        from ..forecast import hours_needed  # start-up cost: the engines load on first use

        return hours_needed(pd.Series(dtype=float), self.horizon)[1]
