"""The Python API of the seed: ``PluginAIAnalytics`` with async methods, over the service layer.

Creating one is cheap: the service (database, scheduler) starts on first use, so
``from plugin_ai_analytics import ai_analytics`` costs nothing until it is used.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from .config import Settings
from .domain import METRIC_NAMES, PluginMetrics
from .errors import InsufficientData, NotFound
from .ops.export import EXPORT_KINDS
from .times import to_ms

__all__ = ["PluginAIAnalytics"]


class PluginAIAnalytics:
    """Collect, forecast, detect and advise for platform plugins, from Python.

    >>> import asyncio, tempfile, pathlib
    >>> from plugin_ai_analytics import PluginAIAnalytics
    >>> from plugin_ai_analytics.config import Settings
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> analytics = PluginAIAnalytics(Settings(data_dir=tmp, log_dir=tmp, scheduler_enabled=False))
    >>> sample = {"timestamp": "2026-01-01T00:00:00Z", "cpu_percent": 12.5}
    >>> asyncio.run(analytics.collect_metrics("shop", sample))["stored"]
    1
    >>> analytics.metrics_history["shop"][0].cpu_percent
    12.5
    >>> analytics.close()
    """

    def __init__(self, settings: Settings | None = None, *, service: Any = None) -> None:
        self._settings = settings
        self._service = service
        self._lock = threading.Lock()

    @property
    def service(self) -> Any:
        """The embedded service, opened on first use on the settings' database. It samples no
        source and schedules nothing until ``start_background()`` is called."""
        if self._service is None:
            with self._lock:
                if self._service is None:
                    # start-up cost: `import plugin_ai_analytics` stays light until the API is used
                    from .service import AnalyticsService

                    service = AnalyticsService(self._settings)
                    service.start(background=False)
                    self._service = service
        return self._service

    def start_background(self) -> None:
        """Do in this process what the server does on its own: load the plugins file, sample every
        registered source on its interval, and run retention, forecast scoring and retraining.
        Do not call it while a server runs on the same database: both would sample the sources."""
        service = self.service
        service.start(background=True)

    def close(self) -> None:
        if self._service is not None:
            self._service.close()
            self._service = None

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a service call off the event loop; records come back as plain dicts, as the seed's do."""
        result = await asyncio.to_thread(fn, *args, **kwargs)
        return result.model_dump() if isinstance(result, BaseModel) else result

    # -- the seed's methods ------------------------------------------------------------------

    async def collect_metrics(
        self, plugin_id: str, metrics: PluginMetrics | Mapping[str, Any] | Sequence[Any] | None = None
    ) -> dict[str, Any]:
        """Store one sample or a list of samples; with none, collect once from the plugin's source."""
        if metrics is None:
            return await self._call(self.service.collect_once, plugin_id)
        items = [metrics] if isinstance(metrics, PluginMetrics | Mapping) else list(metrics)
        samples = [_sample_dict(m) for m in items]
        return await self._call(self.service.ingest_samples, plugin_id, samples)

    async def train_models(self, plugin_id: str) -> dict[str, Any]:
        """Train every metric's forecaster now (waits for it); returns what was trained and skipped."""
        return await self._call(self.service.train_models_now, plugin_id)

    async def predict_performance(self, plugin_id: str) -> dict[str, Any]:
        """24 h forecasts of every trained metric with 80%/95% intervals and confidence."""
        return await self._call(self.service.predict, plugin_id)

    async def detect_anomalies(self, plugin_id: str) -> dict[str, Any]:
        """Score whatever is new now; the detector's status and the plugin's open anomalies."""
        return await self._call(self.service.detect_anomalies, plugin_id)

    async def generate_optimization_suggestions(self, plugin_id: str) -> dict[str, Any]:
        """Suggestions from the plugin's own data, each with evidence, expected effect and steps."""
        return await self._call(self.service.optimization_suggestions, plugin_id)

    async def get_analytics_summary(self, plugin_id: str) -> dict[str, Any]:
        """Current state, trends, forecasts, open anomalies, top suggestions, accuracy, data quality."""
        return await self._call(self.service.analytics_summary, plugin_id)

    async def export_analytics_data(
        self,
        plugin_id: str,
        format: str = "json",
        *,
        kinds: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        path: str | None = None,
    ) -> bytes | str:
        """The plugin's records as JSON, CSV or Parquet bytes, or written to ``path`` (streamed)."""
        chosen = list(kinds) if kinds else (list(EXPORT_KINDS) if format == "json" else ["metrics"])

        def run() -> bytes | str:
            _, chunks = self.service.export_data(plugin_id, kinds=chosen, fmt=format, start=start, end=end)
            if path is None:
                return b"".join(chunks)
            with open(path, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
            return path

        return await self._call(run)

    # -- debugging attributes of the seed -----------------------------------------------------

    @property
    def metrics_history(self) -> Mapping[str, list[PluginMetrics]]:
        """``metrics_history[plugin_id]``: the plugin's most recent samples (up to 1,000), oldest first."""
        return _HistoryView(self)

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        """Active models: ``models[plugin_id][metric]`` → name, version, training time, backtest."""
        out: dict[str, dict[str, Any]] = {}
        for m in self.service.trained_models():
            out.setdefault(m.plugin_id, {})[m.metric] = {
                "model": m.model,
                "version": m.version,
                "trained_at": _utc(m.trained_at),
                "backtest": m.backtest,
            }
        return out

    @property
    def last_training(self) -> dict[str, datetime]:
        """When each plugin's models were last trained."""
        out: dict[str, datetime] = {}
        for m in self.service.trained_models():
            at = _utc(m.trained_at)
            if m.plugin_id not in out or at > out[m.plugin_id]:
                out[m.plugin_id] = at
        return out

    @property
    def predictions(self) -> Mapping[str, dict[str, Any]]:
        """``predictions[plugin_id]``: the latest stored forecast (as ``predict_performance`` returns it)."""
        return _PredictionsView(self)


class _HistoryView(Mapping[str, list[PluginMetrics]]):
    def __init__(self, owner: PluginAIAnalytics) -> None:
        self._owner = owner

    def __getitem__(self, plugin_id: str) -> list[PluginMetrics]:
        service = self._owner.service
        try:
            samples = service.get_plugin(plugin_id).samples
            if not samples:
                raise KeyError(plugin_id)
            page = service.metrics_history(plugin_id, limit=1000, offset=max(0, samples - 1000))
        except NotFound:
            raise KeyError(plugin_id) from None
        return [
            PluginMetrics(
                plugin_id=plugin_id,
                timestamp=datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")),
                **{m: row[m] for m in METRIC_NAMES},
            )
            for row in page.samples
        ]

    def __iter__(self) -> Iterator[str]:
        return iter(p.plugin_id for p in self._owner.service.list_plugins() if p.samples)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _PredictionsView(Mapping[str, dict[str, Any]]):
    def __init__(self, owner: PluginAIAnalytics) -> None:
        self._owner = owner

    def __getitem__(self, plugin_id: str) -> dict[str, Any]:
        try:
            return self._owner.service.latest_forecast(plugin_id).model_dump()
        except InsufficientData:
            raise KeyError(plugin_id) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({m.plugin_id for m in self._owner.service.trained_models()}))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _utc(iso: str) -> datetime:
    return datetime.fromtimestamp(to_ms(iso) / 1000, UTC)


def _sample_dict(sample: Any) -> dict[str, Any]:
    if isinstance(sample, PluginMetrics):
        data = asdict(sample)
        data.pop("plugin_id")
        data["timestamp"] = sample.timestamp.isoformat()
        return {k: v for k, v in data.items() if v is not None}
    return dict(sample)
