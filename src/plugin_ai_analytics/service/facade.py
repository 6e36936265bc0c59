"""``AnalyticsService``: the one entry every face (REST API, CLI, Python API, dashboard) calls.

It builds the parts (each given only the store record kinds, settings and sibling parts it
uses), owns their life cycle (scheduler, job pool, detection worker), and hands each call to the
part that does it; it holds no logic of its own beyond checking a plugin id at the door.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..collect.registry import PluginChanges, PluginReplacement, PluginSpec
from ..collect.validate import check_plugin_id
from ..config import Settings, get_settings
from ..errors import NotFound, ValidationError
from ..jobs.base import Executor
from ..jobs.executor import JobRunner
from ..jobs.inprocess import InProcessExecutor
from ..jobs.scheduler import Scheduler
from ..logs import configure_logging, log_event
from ..ops.export import export_stream
from ..schemas import (
    AnalyticsSummary,
    AnomalyEvent,
    AnomalyHistory,
    BatchQueued,
    DetectionResult,
    ForecastAccuracy,
    IngestResult,
    Job,
    MetricsPage,
    Plugin,
    PluginForecast,
    PluginHealth,
    PluginsOverview,
    SuggestionHistory,
    SuggestionReport,
    SystemStatus,
    TrainedModel,
)
from ..security.audit import Audit
from ..security.crypto import SecretBox, load_keys
from ..security.masking import mask
from ..security.outbound import Allowlist
from ..security.tokens import Tokens
from ..store import Store
from ..times import ms_to_iso, to_ms
from .advice import Advice
from .alerting import Alerting
from .batch import BATCH_ANALYSES, shared_detection
from .detection import Detection
from .exposition import Exposition
from .facade_alerting import AlertingCalls
from .facade_operations import OperationsCalls
from .forecasts import Forecasts
from .health import Health
from .history import History
from .ingest import Ingest
from .plugins import Plugins
from .sources import Sources
from .status import Status
from .summary import Summary
from .tasks import PERIODIC, periodic_work, task_table
from .tracking import Tracking
from .writer import MetricWriter

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AnalyticsService"]

# How often the schedule of source sampling is compared with the registry in the database.
REGISTRY_FOLLOW_SECONDS = 10.0


class AnalyticsService(AlertingCalls, OperationsCalls):
    """Everything the product does, behind one object. Create, ``start()``, use, ``close()``."""

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None) -> None:
        self.settings = settings or get_settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = configure_logging(self.settings.log_dir, self.settings.log_level)
        key = self.settings.secret_key.get_secret_value() if self.settings.secret_key else None
        self.secrets = SecretBox(load_keys(key, self.settings.effective_key_file))
        self.store = store or Store(
            self.settings.effective_database_url, cipher=self.secrets, limits=self.settings.database_limits
        )
        admin = self.settings.admin_token.get_secret_value() if self.settings.admin_token else None
        self.tokens = Tokens(self.store.tokens, admin_token=admin)
        self.audit = Audit(self.store.audit)
        self.jobs = JobRunner(
            self.store.jobs,
            workers=max(2, self.settings.effective_cpu_cores),
            max_queued=self.settings.job_queue_limit,
            grace_seconds=self.settings.job_shutdown_grace_seconds,
        )
        self.executor = self._executor()
        self.scheduler = Scheduler(self.jobs.run_now)
        store = self.store
        self.history = History(store.metrics, store.plugins)
        self.detection = Detection(
            metrics=store.metrics,
            anomalies=store.anomalies,
            states=store.detector_states,
            plugins=store.plugins,
            sensitivity=self.settings.anomaly_detection_sensitivity,
            floors=self.settings.severity_floors,
            memory_floor_fraction=self.settings.severity_floor_memory_fraction,
            shared_lock=shared_detection(self.settings, store),
        )
        self.writer = MetricWriter(
            store.metrics,
            single_writer=store.dialect == "sqlite",
            timeout=self.settings.sqlite_write_timeout_seconds,
        )
        self.ingest = Ingest(
            settings=self.settings,
            metrics=store.metrics,
            rejections=store.rejections,
            plugins=store.plugins,
            detection=self.detection,
            writer=self.writer,
        )
        self.sources = Sources(
            plugins=store.plugins,
            scheduler=self.scheduler,
            ingest=self.ingest,
            allow=Allowlist.parse(self.settings.outbound_allow),
            spool_dir=self.settings.data_dir / "spool",
            spool_max_bytes=self.settings.spool_max_bytes,
            max_batch=self.settings.max_batch_samples,
        )
        self.plugins = Plugins(
            plugins=store.plugins,
            metrics=store.metrics,
            sources=self.sources,
            detection=self.detection,
            on_change=self._backup_configuration,
        )
        self.forecasts = Forecasts(
            settings=self.settings,
            history=self.history,
            metrics=store.metrics,
            models=store.models,
            predictions=store.predictions,
            plugins=store.plugins,
            jobs=self.executor,
            adaptation=store.interval_adaptation,
        )
        self.tracking = Tracking(
            settings=self.settings,
            metrics=store.metrics,
            models=store.models,
            predictions=store.predictions,
            adaptation=store.interval_adaptation,
            forecasts=self.forecasts,
        )
        self.advice = Advice(history=self.history, suggestions=store.suggestions, plugins=store.plugins)
        self.summary = Summary(
            plugins=store.plugins,
            metrics=store.metrics,
            models=store.models,
            rejections=store.rejections,
            history=self.history,
            forecasts=self.forecasts,
            tracking=self.tracking,
            detection=self.detection,
            advice=self.advice,
        )
        self.health = Health(store=store, settings=self.settings, sources=self.sources, forecasts=self.forecasts)
        self.alerting = Alerting(
            store=store, settings=self.settings, sources=self.sources, forecasts=self.forecasts, jobs=self.executor
        )
        self.exposition = Exposition(
            store=store, settings=self.settings, detection=self.detection, alerting=self.alerting
        )
        self.status = Status(
            store=store,
            jobs=self.executor,
            scheduler=self.scheduler,
            plugins=self.plugins,
            forecasts=self.forecasts,
            detection=self.detection,
        )

    def _executor(self) -> Executor:
        """Where jobs run (AI_ANALYTICS_EXECUTOR): this process's pool, or Celery workers."""
        if self.settings.executor != "celery":
            tasks = task_table(self)
            return InProcessExecutor(self.jobs, lambda kind: tasks[kind])
        if self.store.dialect != "postgresql":
            raise ValidationError(
                "AI_ANALYTICS_EXECUTOR=celery needs PostgreSQL (DATABASE_URL=postgresql://…): every worker "
                "and API replica shares its database",
                field="AI_ANALYTICS_EXECUTOR",
            )
        from ..jobs.celery_app import CeleryExecutor, make_celery  # start-up cost: Celery loads only in that mode

        app = make_celery(self.settings.broker_url, visibility_seconds=self.settings.task_visibility_seconds)
        return CeleryExecutor(
            app,
            self.store.jobs,
            max_queued=self.settings.job_queue_limit,
            retry_after=self.settings.retry_after_seconds,
        )

    # -- life cycle --------------------------------------------------------------------------

    def start(self, *, background: bool = True) -> None:
        """Start the detection worker; with ``background`` (the server) also load the plugins file,
        sample every plugin's source and run retention, forecast scoring and retraining on schedule.
        The Python API starts without ``background``: importing it must not start collecting."""
        self.detection.start()
        if not background:
            log_event(logging.INFO, "start", "service started (no background work)", version=__version__)
            return
        if self.executor.name != "celery" and not self.settings.effective_replicated:
            self.close_interrupted_jobs()  # this process owns the only job queue: what it finds was a dead one's
        if self.settings.plugins_file:
            self.plugins.load_file(self.settings.plugins_file)
        if self.executor.name == "celery":
            # A stateless replica: periodic work and source sampling are the beat process's
            # (``plugin-ai-analytics beat``), alert delivery the workers'; never both.
            if self.settings.alerting_file:
                self.alerting.load_file(self.settings.alerting_file)
            log_event(logging.INFO, "start", "API replica started", database=self.store.dialect, version=__version__)
            return
        self.sample_sources()
        self.alerting.start()
        for task in PERIODIC:
            if task.enabled(self.settings):
                every = task.interval(self.settings)
                first = min(task.first_in or every, every)
                self.scheduler.every(task.name, every, periodic_work(self, task.name), first_in=first)
        if self.settings.scheduler_enabled:
            self.scheduler.start()
        log_event(logging.INFO, "start", "service started", database=self.store.dialect, version=__version__)

    def sample_sources(self) -> None:
        """Sample every registered source on its interval, on this process's scheduler."""
        self.plugins.schedule_all()
        # Registrations written by another process (plugins load, another replica) are picked up.
        self.scheduler.every("follow_registry", REGISTRY_FOLLOW_SECONDS, self.sources.follow_registry)

    def close(self) -> None:
        self.scheduler.stop()
        self.alerting.stop()
        self.executor.shutdown(wait=True)
        self.jobs.shutdown(wait=True)
        self.writer.close()
        self.detection.stop()
        self.store.close()

    # -- ingestion and the registry ----------------------------------------------------------

    def collect_metrics(self, plugin_id: str, body: bytes | str | None) -> IngestResult:
        """Ingest a JSON batch; with an empty body, collect once from the plugin's source."""
        check_plugin_id(plugin_id)
        if body is None or not body.strip():
            try:
                return self.sources.collect_once(plugin_id)
            except (NotFound, ValidationError) as exc:
                # an empty body for a plugin without a source is a rejected request like any other
                self.ingest.reject(plugin_id, exc, 0)
                raise
        return self.ingest.push(plugin_id, body)

    def ingest_samples(self, plugin_id: str, samples: Sequence[dict[str, Any]]) -> IngestResult:
        """Ingest already-decoded samples (Python API, instrumentation client, importers)."""
        return self.ingest.samples(plugin_id, samples)

    def import_frame(
        self,
        plugin_id: str,
        frame: pd.DataFrame,
        *,
        keep_history: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Import a history frame (``timestamp`` + metric columns) in atomic chunks; history older
        than the metrics retention is refused unless ``keep_history`` exempts the plugin."""
        check_plugin_id(plugin_id)
        if keep_history:
            self.plugins.keep_history(plugin_id)
        return self.ingest.history_file(plugin_id, frame, progress=progress)

    def collect_once(self, plugin_id: str) -> IngestResult:
        return self.sources.collect_once(plugin_id)

    def register_plugin(self, spec: dict[str, Any]) -> Plugin:
        return self.plugins.register(spec)

    def create_plugin(self, spec: PluginSpec) -> Plugin:
        return self.plugins.create(spec)

    def replace_plugin(self, plugin_id: str, spec: PluginReplacement) -> tuple[Plugin, bool]:
        check_plugin_id(plugin_id)
        return self.plugins.replace(plugin_id, spec)

    def update_plugin(self, plugin_id: str, changes: PluginChanges) -> Plugin:
        check_plugin_id(plugin_id)
        return self.plugins.update(plugin_id, changes)

    def get_plugin(self, plugin_id: str, *, reveal: bool = False) -> Plugin:
        return self.plugins.get(plugin_id, reveal=reveal)

    def list_plugins(self) -> list[Plugin]:
        return self.plugins.all()

    def delete_plugin(self, plugin_id: str) -> None:
        self.plugins.delete(plugin_id)

    def load_plugins_file(self, path: Path) -> list[str]:
        return self.plugins.load_file(path)

    def metrics_history(self, plugin_id: str, **query: Any) -> MetricsPage:
        """History page: ``start``, ``end``, ``resolution``, ``limit``, ``offset``, ``metrics``."""
        check_plugin_id(plugin_id)
        return self.history.page(plugin_id, **query)

    # -- jobs --------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job:
        return public_job(self.store.jobs.get(job_id))

    def list_jobs(self, status: str | None = None, limit: int = 100) -> list[Job]:
        return [public_job(j) for j in self.store.jobs.recent(status=status, limit=limit)]

    # -- forecasting -------------------------------------------------------------------------

    def train_models(self, plugin_id: str) -> str:
        """Queue training of every metric's forecaster; returns the job's id."""
        return self.queue_training(plugin_id)[0]

    def queue_training(self, plugin_id: str) -> tuple[str, bool]:
        """Queue training unless one of the plugin is queued or running already:
        ``(job id, whether it was queued now)``; ``QueueFull`` (429) when the queue is at its bound."""
        check_plugin_id(plugin_id)
        return self.forecasts.queue_training(plugin_id)

    def train_models_now(self, plugin_id: str) -> dict[str, Any]:
        check_plugin_id(plugin_id)
        return self.forecasts.train_now(plugin_id)

    def predict(self, plugin_id: str) -> PluginForecast:
        """24 h forecasts of every trained metric with 80%/95% intervals and confidence."""
        check_plugin_id(plugin_id)
        return self.forecasts.predict(plugin_id)

    def latest_forecast(self, plugin_id: str) -> PluginForecast:
        check_plugin_id(plugin_id)
        return self.forecasts.latest(plugin_id)

    def trained_models(self, plugin_id: str | None = None) -> list[TrainedModel]:
        """The active model of every trained metric (of one plugin, or of all)."""
        return self.forecasts.trained_models(plugin_id)

    def forecast_accuracy(self, plugin_id: str, days: float = 7) -> ForecastAccuracy:
        check_plugin_id(plugin_id)
        return ForecastAccuracy(
            plugin_id=plugin_id, window_days=days, metrics=self.tracking.accuracy(plugin_id, days=days)
        )

    # -- anomaly detection -------------------------------------------------------------------

    def detect_anomalies(self, plugin_id: str) -> DetectionResult:
        """Score whatever is new now; report the detector's status and the open anomalies."""
        check_plugin_id(plugin_id)
        return self.detection.detect_now(plugin_id)

    def anomalies_history(
        self,
        plugin_id: str,
        *,
        start: Any = None,
        end: Any = None,
        severity: str | None = None,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AnomalyHistory:
        check_plugin_id(plugin_id)
        self.store.plugins.require(plugin_id)
        events = self.detection.history(
            plugin_id,
            start_ms=to_ms(start),
            end_ms=to_ms(end),
            severity=severity,
            state=state,
            limit=limit,
            offset=offset,
        )
        return AnomalyHistory(
            plugin_id=plugin_id,
            count=len(events),
            anomalies=events,
            next_offset=offset + len(events) if len(events) == limit else None,
        )

    def anomaly_feedback(self, plugin_id: str, event_id: str, label: str) -> AnomalyEvent:
        check_plugin_id(plugin_id)
        return self.detection.feedback(plugin_id, event_id, label)

    # -- advice, summary, health, export, batch ----------------------------------------------

    def optimization_suggestions(self, plugin_id: str) -> SuggestionReport:
        check_plugin_id(plugin_id)
        return self.advice.suggest(plugin_id)

    def suggestions_history(
        self, plugin_id: str, *, start: Any = None, end: Any = None, limit: int = 100, offset: int = 0
    ) -> SuggestionHistory:
        check_plugin_id(plugin_id)
        return self.advice.history(plugin_id, start_ms=to_ms(start), end_ms=to_ms(end), limit=limit, offset=offset)

    def analytics_summary(self, plugin_id: str) -> AnalyticsSummary:
        check_plugin_id(plugin_id)
        return self.summary.build(plugin_id)

    def plugins_overview(self) -> PluginsOverview:
        """Every plugin's health at a glance (open anomalies, forecast risk, accuracy, freshness)."""
        return self.health.overview()

    def plugin_overview(self, plugin_id: str) -> PluginHealth:
        check_plugin_id(plugin_id)
        return self.health.plugin(plugin_id)

    def export_data(
        self, plugin_id: str, *, kinds: list[str], fmt: str, start: Any = None, end: Any = None, raw: bool = False
    ) -> tuple[str, Iterator[bytes]]:
        """``(media type, byte-chunk iterator)`` of the plugin's records; streamed, never whole in memory.
        Personal data is masked unless ``raw`` (an admin's call, audited by the face)."""
        check_plugin_id(plugin_id)
        plugin = self.store.plugins.require(plugin_id)
        log_event(logging.INFO, "export_data", f"export {','.join(kinds)} as {fmt}", plugin=plugin_id, raw=raw)
        about = {"name": plugin["name"], "description": plugin["description"]}
        return export_stream(
            self.store.exports, plugin_id, kinds, fmt, to_ms(start), to_ms(end), about=about, mask=None if raw else mask
        )

    def batch_analysis(
        self,
        plugin_ids: list[str] | None,
        analyses: Sequence[str] | None = None,
        *,
        retrain: bool = False,
        workers: int | None = None,
    ) -> BatchQueued:
        """Queue analysis of many plugins (all when ``plugin_ids`` is None)."""
        chosen = tuple(analyses or BATCH_ANALYSES)
        for name in chosen:
            if name not in BATCH_ANALYSES:
                raise ValidationError(
                    f"unknown analysis {name!r}; known: {', '.join(BATCH_ANALYSES)}", field="analyses"
                )
        known = {p["plugin_id"] for p in self.store.plugins.all()}
        if plugin_ids is None:
            plugin_ids = sorted(known)
        else:
            for pid in plugin_ids:
                check_plugin_id(pid)
            missing = sorted(set(plugin_ids) - known)
            if missing:
                raise NotFound(f"unknown plugins: {', '.join(missing[:20])}", plugins=missing[:100])
        if not plugin_ids:
            raise ValidationError("no plugins to analyse", field="plugins")
        params = {"analyses": list(chosen), "retrain": retrain, "workers": workers}
        job_id = self.executor.submit_batch(plugin_ids, params)
        return BatchQueued(job_id=job_id, plugins=len(plugin_ids), analyses=list(chosen))

    def system_status(self) -> SystemStatus:
        return self.status.report()

    def readiness(self, timeout: float) -> dict[str, Any]:
        """Readiness checks that touch the database (``/readyz``; the queue is ``jobs.state()``)."""
        return self.status.database_readiness(timeout)


def public_job(row: dict[str, Any]) -> Job:
    """A job's record as clients see it."""
    return Job(
        job_id=row["job_id"],
        kind=row["kind"],
        plugin_id=row["plugin_id"],
        status=row["status"],
        progress=row["progress"],
        created_at=ms_to_iso(row["created_at"]),
        started_at=ms_to_iso(row["started_at"]),
        finished_at=ms_to_iso(row["finished_at"]),
        result=row["result"],
        error=row["error"],
    )
