"""The service layer: the one facade every face (REST API, CLI, Python API, dashboard) calls.

It owns the store, the job executor and the scheduler, and orchestrates the pure engines.
Faces never touch the store directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from . import __version__
from .collect.validate import MetricSample, check_plugin_id, normalise_samples, parse_batch, validate_samples
from .config import Settings, get_settings
from .domain import METRIC_NAMES
from .errors import AnalyticsError, NotFound, PayloadTooLarge, SourceError, ValidationError
from .jobs.executor import JobRunner
from .jobs.scheduler import Scheduler
from .logs import configure_logging, log_event
from .store import Store, now_ms

__all__ = ["AnalyticsService", "parse_resolution", "to_ms"]

MAX_HISTORY_PAGE = 10_000


def to_ms(moment: datetime | str | float | int | None) -> int | None:
    """Epoch milliseconds of an ISO-8601 string, a datetime or epoch seconds (UTC if no zone)."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, int | float):
        return int(moment * 1000)
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"not an ISO-8601 time: {moment!r}", field="time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def ms_to_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def ms_to_iso_many(ms: list[int]) -> list[str]:
    """``ms_to_iso`` of many timestamps at once (same strings), for forecasts' hundreds of points."""
    import numpy as np

    us = np.asarray(ms, dtype=np.int64).astype("datetime64[ms]").astype("datetime64[us]")
    text = np.datetime_as_string(us, unit="us")
    whole = (np.asarray(ms, dtype=np.int64) % 1000) == 0
    # isoformat() leaves the fraction out when it is zero; keep the strings identical.
    return [(t[:19] if w else t) + "Z" for t, w in zip(text.tolist(), whole.tolist(), strict=True)]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_resolution(value: str | None) -> int | None:
    """``raw``/None → None; ``300``/``300s``/``5m``/``1h``/``1d`` → milliseconds."""
    if value is None or value in ("", "raw"):
        return None
    text = value.strip().lower()
    unit = 1
    if text[-1:] in _UNITS:
        unit = _UNITS[text[-1]]
        text = text[:-1]
    try:
        seconds = float(text) * unit
    except ValueError:
        raise ValidationError(
            f"resolution {value!r} is not 'raw' or a duration like 300s, 5m, 1h", field="resolution"
        ) from None
    if seconds < 1 or seconds > 366 * 86400:
        raise ValidationError("resolution must be between 1 s and 366 days", field="resolution")
    return int(seconds * 1000)


class AnalyticsService:
    """Everything the product does, behind one object. Create, ``start()``, use, ``close()``."""

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None) -> None:
        self.settings = settings or get_settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = configure_logging(self.settings.log_dir, self.settings.log_level)
        self.store = store or Store(self.settings.effective_database_url)
        self.jobs = JobRunner(self.store, workers=max(2, self.settings.effective_cpu_cores))
        self.scheduler = Scheduler(self.jobs.run_now)
        self._sources: dict[str, Any] = {}
        self.started_at = time.time()
        from .forecasting import Forecasting

        self.forecasting = Forecasting(self)
        from .detection import Detection

        self.detection = Detection(self)
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # prime: the first reading covers time since this call

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Load the plugins file, schedule every plugin with a source, start the scheduler."""
        if self.settings.plugins_file:
            self.load_plugins_file(self.settings.plugins_file)
        for plugin in self.store.list_plugins():
            self._schedule_source(plugin)
        self.detection.start()
        self.scheduler.every("retention", 3600, self.apply_retention, first_in=60)
        self.scheduler.every("score_predictions", 60, self.forecasting.score_due, first_in=30)
        self.scheduler.every("retrain_due", 600, self.forecasting.retrain_tick, first_in=120)
        if self.settings.scheduler_enabled:
            self.scheduler.start()
        log_event(logging.INFO, "start", "service started", database=self.store.dialect, version=__version__)

    def close(self) -> None:
        self.scheduler.stop()
        self.jobs.shutdown(wait=True)
        self.detection.stop()
        self.store.close()

    # -- ingestion ---------------------------------------------------------------------------

    def collect_metrics(self, plugin_id: str, body: bytes | str | None) -> dict[str, Any]:
        """Ingest a JSON batch; with an empty body, collect once from the plugin's source."""
        check_plugin_id(plugin_id)
        if body is None or not (body.strip() if isinstance(body, bytes | str) else body):
            return self.collect_once(plugin_id)
        try:
            samples = parse_batch(body, max_samples=self.settings.max_batch_samples)
        except AnalyticsError as exc:
            self._reject(plugin_id, exc, None)
            raise
        return self._store_samples(plugin_id, samples)

    def ingest_samples(self, plugin_id: str, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Ingest already-decoded samples (Python API, instrumentation client, importers)."""
        check_plugin_id(plugin_id)
        try:
            if len(samples) > self.settings.max_batch_samples:
                raise PayloadTooLarge(
                    f"samples: batch of {len(samples)} exceeds the limit of {self.settings.max_batch_samples}",
                    field="samples",
                )
            if not samples:
                raise ValidationError("samples: batch is empty", field="samples")
            parsed = validate_samples(samples)
        except AnalyticsError as exc:
            self._reject(plugin_id, exc, len(samples))
            raise
        return self._store_samples(plugin_id, parsed)

    def _store_samples(self, plugin_id: str, samples: Sequence[MetricSample]) -> dict[str, Any]:
        try:
            rows = normalise_samples(
                plugin_id,
                samples,
                now=datetime.now(UTC),
                cpu_cores=self.settings.effective_cpu_cores,
                max_future_skew_seconds=self.settings.max_future_skew_seconds,
            )
        except ValidationError as exc:
            self._reject(plugin_id, exc, len(samples))
            raise
        stored = self.store.insert_samples(plugin_id, rows)
        result: dict[str, Any] = {
            "plugin_id": plugin_id,
            "received": len(samples),
            "stored": stored,
            "first": ms_to_iso(rows[0][0]),
            "last": ms_to_iso(rows[-1][0]),
        }
        verdict = self.detection.on_stored(plugin_id, stored)
        if verdict is not None:
            result["detection"] = verdict
        return result

    def _reject(self, plugin_id: str, exc: Exception, samples: int | None) -> None:
        field = getattr(exc, "field", None)
        message = getattr(exc, "message", str(exc))
        log_event(logging.WARNING, "collect_metrics", f"rejected batch: {message}", plugin=plugin_id)
        try:
            self.store.record_rejection(plugin_id, field, message, samples or 0)
        except Exception:  # the rejection log must never hide the real error from the client
            log_event(logging.ERROR, "collect_metrics", "could not record a rejection", plugin=plugin_id)

    def import_frame(self, plugin_id: str, frame: Any, *, chunk: int = 5000, progress: Any = None) -> dict[str, Any]:
        """Import a history frame (``timestamp`` + metric columns) in chunks; each chunk is atomic."""
        import pandas as pd

        check_plugin_id(plugin_id)
        stored = 0
        columns = [c for c in frame.columns if c in METRIC_NAMES]
        for begin in range(0, len(frame), chunk):
            part = frame.iloc[begin : begin + chunk]
            samples = []
            for ts, *values in zip(part["timestamp"], *(part[c] for c in columns), strict=True):
                sample: dict[str, Any] = {"timestamp": ts.isoformat()}
                for name, value in zip(columns, values, strict=True):
                    if not pd.isna(value):
                        sample[name] = value
                if len(sample) > 1:  # a row with every metric empty carries nothing to store
                    samples.append(sample)
            if not samples:
                continue
            try:
                stored += self.ingest_samples(plugin_id, samples)["stored"]
            except ValidationError as exc:
                raise ValidationError(
                    f"rows {begin}-{begin + len(part) - 1}: {exc.message} ({stored} earlier rows were stored)",
                    field=exc.field,
                ) from None
            if progress:
                progress(begin + len(part))
        log_event(logging.INFO, "import", f"imported {stored} samples", plugin=plugin_id)
        return {"plugin_id": plugin_id, "rows": len(frame), "stored": stored, "metrics": columns}

    # -- plugin registry ---------------------------------------------------------------------

    def register_plugin(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a plugin's registration; a source starts being sampled at once."""
        from .collect.registry import PluginSpec

        plugin = PluginSpec.model_validate(spec)
        row = plugin.model_dump(mode="json")
        self.store.upsert_plugin(row)
        stored = self.get_plugin(plugin.plugin_id)
        self._schedule_source(self.store.get_plugin(plugin.plugin_id) or row)
        log_event(logging.INFO, "register_plugin", "plugin registered", plugin=plugin.plugin_id)
        return stored

    def get_plugin(self, plugin_id: str) -> dict[str, Any]:
        plugin = self.store.get_plugin(plugin_id)
        if plugin is None:
            raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
        return _public_plugin(plugin, self.store.metrics_extent(plugin_id))

    def list_plugins(self) -> list[dict[str, Any]]:
        extents = self.store.all_extents()
        empty = {"samples": 0, "first_ts": None, "last_ts": None}
        return [_public_plugin(p, extents.get(p["plugin_id"], empty)) for p in self.store.list_plugins()]

    def delete_plugin(self, plugin_id: str) -> None:
        self.store.delete_plugin(plugin_id)
        self.scheduler.cancel(f"collect:{plugin_id}")
        self._sources.pop(plugin_id, None)
        self.detection.forget(plugin_id)

    def load_plugins_file(self, path: Path) -> list[str]:
        """Register every plugin of a YAML registry file (``plugins: [ {plugin_id, source, ...} ]``)."""
        from .collect.registry import load_registry_file

        ids = []
        for spec in load_registry_file(path):
            self.register_plugin(spec)
            ids.append(spec["plugin_id"])
        return ids

    def _schedule_source(self, plugin: dict[str, Any]) -> None:
        plugin_id = plugin["plugin_id"]
        name = f"collect:{plugin_id}"
        self._sources.pop(plugin_id, None)
        if not plugin.get("source") or not plugin.get("enabled", True):
            self.scheduler.cancel(name)
            return
        interval = float(plugin.get("interval_seconds") or 60.0)
        self.scheduler.every(name, interval, lambda: self._collect_scheduled(plugin_id))

    def _source_for(self, plugin_id: str) -> Any:
        source = self._sources.get(plugin_id)
        if source is None:
            plugin = self.store.get_plugin(plugin_id)
            if plugin is None:
                raise NotFound(f"plugin {plugin_id!r} is not registered", plugin_id=plugin_id)
            if not plugin.get("source"):
                raise ValidationError(
                    f"plugin {plugin_id!r} has no source to collect from: send a batch of samples in the "
                    "body, or register a source (process, prometheus or promql)",
                    field="body",
                )
            from .collect.base import build_source

            source = build_source(plugin["source"])
            self._sources[plugin_id] = source
        return source

    def collect_once(self, plugin_id: str) -> dict[str, Any]:
        """Read the plugin's source now and store one sample."""
        source = self._source_for(plugin_id)
        at = datetime.now(UTC)
        try:
            values = source.collect()
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"source of {plugin_id!r} failed: {exc}", plugin_id=plugin_id) from exc
        values = {k: v for k, v in values.items() if k in METRIC_NAMES and v is not None}
        if not values:
            # e.g. the first scrape of counters: rates need two readings. Nothing is invented.
            return {"plugin_id": plugin_id, "received": 0, "stored": 0, "note": "source gave no values yet"}
        return self.ingest_samples(plugin_id, [{"timestamp": at.isoformat(), **values}])

    def _collect_scheduled(self, plugin_id: str) -> None:
        try:
            self.collect_once(plugin_id)
        except Exception as exc:
            log_event(logging.ERROR, "collect_metrics", f"scheduled collection failed: {exc}", plugin=plugin_id)
            exc.logged = True  # type: ignore[attr-defined]  # the scheduler counts it without a second line
            raise

    def apply_retention(self) -> dict[str, int]:
        from .ops.retention import apply_retention

        return apply_retention(self.store, self.settings, now_ms())

    # -- history -----------------------------------------------------------------------------

    def metrics_history(
        self,
        plugin_id: str,
        *,
        start: Any = None,
        end: Any = None,
        resolution: str | None = None,
        limit: int = 1000,
        offset: int = 0,
        metrics: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        check_plugin_id(plugin_id)
        if self.store.get_plugin(plugin_id) is None:
            raise NotFound(f"plugin {plugin_id!r} has no metrics", plugin_id=plugin_id)
        if not 1 <= limit <= MAX_HISTORY_PAGE:
            raise ValidationError(f"limit must be between 1 and {MAX_HISTORY_PAGE}", field="limit")
        if offset < 0:
            raise ValidationError("offset must be >= 0", field="offset")
        chosen = tuple(metrics) if metrics else METRIC_NAMES
        for name in chosen:
            if name not in METRIC_NAMES:
                raise ValidationError(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}", field="metrics")
        start_ms, end_ms = to_ms(start), to_ms(end)
        if start_ms is not None and end_ms is not None and end_ms <= start_ms:
            raise ValidationError("'to' must be after 'from'", field="to")
        resolution_ms = parse_resolution(resolution)
        rows = self.store.metrics_history(
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
        return {
            "plugin_id": plugin_id,
            "resolution": "raw" if resolution_ms is None else f"{resolution_ms // 1000}s",
            "from": ms_to_iso(start_ms),
            "to": ms_to_iso(end_ms),
            "count": len(rows),
            "next_offset": offset + len(rows) if len(rows) == limit else None,
            "metrics": list(chosen),
            "samples": rows,
        }

    # -- jobs --------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> dict[str, Any]:
        return _public_job(self.store.get_job(job_id))

    def list_jobs(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return [_public_job(j) for j in self.store.list_jobs(status=status, limit=limit)]

    # -- forecasting -------------------------------------------------------------------------

    def train_models(self, plugin_id: str) -> dict[str, Any]:
        """Queue training of every metric's forecaster; returns the job to poll."""
        check_plugin_id(plugin_id)
        job_id = self.forecasting.submit_training(plugin_id)
        return {"job_id": job_id, "status": "queued", "poll": f"/api/plugin-ai-analytics/jobs/{job_id}"}

    def train_models_now(self, plugin_id: str) -> dict[str, Any]:
        check_plugin_id(plugin_id)
        return self.forecasting.train_now(plugin_id)

    def predict(self, plugin_id: str) -> dict[str, Any]:
        """24 h forecasts of every trained metric with 80%/95% intervals and confidence."""
        check_plugin_id(plugin_id)
        return self.forecasting.predict(plugin_id)

    def forecast_accuracy(self, plugin_id: str, days: float = 7) -> dict[str, Any]:
        check_plugin_id(plugin_id)
        return {"plugin_id": plugin_id, "window_days": days, "metrics": self.forecasting.accuracy(plugin_id, days=days)}

    # -- anomaly detection -------------------------------------------------------------------

    def detect_anomalies(self, plugin_id: str) -> dict[str, Any]:
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
    ) -> dict[str, Any]:
        check_plugin_id(plugin_id)
        if self.store.get_plugin(plugin_id) is None:
            raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
        if severity is not None and severity not in ("High", "Medium", "Low"):
            raise ValidationError("severity must be High, Medium or Low", field="severity")
        if state is not None and state not in ("open", "closed", "suppressed"):
            raise ValidationError("state must be open, closed or suppressed", field="state")
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be between 1 and 1000", field="limit")
        events = self.detection.history(
            plugin_id,
            start_ms=to_ms(start),
            end_ms=to_ms(end),
            severity=severity,
            state=state,
            limit=limit,
            offset=offset,
        )
        return {
            "plugin_id": plugin_id,
            "count": len(events),
            "anomalies": events,
            "next_offset": offset + len(events) if len(events) == limit else None,
        }

    def anomaly_feedback(self, plugin_id: str, event_id: str, label: str) -> dict[str, Any]:
        check_plugin_id(plugin_id)
        return self.detection.feedback(plugin_id, event_id, label)

    # -- optimisation suggestions ------------------------------------------------------------

    def optimization_suggestions(self, plugin_id: str) -> dict[str, Any]:
        """Analyse the plugin's own history; every suggestion carries its evidence and numbers.

        A finding already on record is updated in place, so history never repeats itself.
        """
        from .advise import PluginContext, analyse_with_report

        check_plugin_id(plugin_id)
        plugin = self.store.get_plugin(plugin_id)
        if plugin is None:
            raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
        frame = self.forecasting.history_frame(plugin_id)
        # CPU advice needs the plugin's own allocation; the host's core count is not it.
        context = PluginContext(
            memory_limit_mb=plugin["memory_limit_mb"], cpu_limit_percent=plugin["cpu_limit_percent"]
        )
        report = analyse_with_report(frame, context)
        rows = [_suggestion_row(s.to_dict()) for s in report.suggestions]
        self.store.upsert_suggestions(plugin_id, rows)
        current = self.suggestion_records(plugin_id, findings=[r["finding"] for r in rows]) if rows else []
        log_event(logging.INFO, "optimization_suggestions", f"{len(rows)} suggestions", plugin=plugin_id)
        return {
            "plugin_id": plugin_id,
            "analysed_from": frame.index[0].isoformat() if len(frame) else None,
            "analysed_to": frame.index[-1].isoformat() if len(frame) else None,
            "suggestions": current,
            "not_analysed": report.skipped,
        }

    def suggestion_records(self, plugin_id: str, **filters: Any) -> list[dict[str, Any]]:
        return [_public_suggestion(r) for r in self.store.suggestions(plugin_id, **filters)]

    def suggestions_history(
        self, plugin_id: str, *, start: Any = None, end: Any = None, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        check_plugin_id(plugin_id)
        if self.store.get_plugin(plugin_id) is None:
            raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
        records = self.suggestion_records(
            plugin_id, start_ms=to_ms(start), end_ms=to_ms(end), limit=limit, offset=offset
        )
        return {
            "plugin_id": plugin_id,
            "count": len(records),
            "suggestions": records,
            "next_offset": offset + len(records) if len(records) == limit else None,
        }

    # -- dashboard aggregates ----------------------------------------------------------------

    def plugins_overview(self) -> dict[str, Any]:
        """Every plugin's health at a glance (open anomalies, forecast risk, accuracy, freshness)."""
        from .overview import plugins_overview

        return plugins_overview(self)

    def plugin_overview(self, plugin_id: str) -> dict[str, Any]:
        from .overview import plugin_overview

        check_plugin_id(plugin_id)
        return plugin_overview(self, plugin_id)

    # -- summary, export, batch --------------------------------------------------------------

    def analytics_summary(self, plugin_id: str) -> dict[str, Any]:
        from .summary import build_summary

        check_plugin_id(plugin_id)
        return build_summary(self, plugin_id)

    def export_data(
        self, plugin_id: str, *, kinds: list[str], fmt: str, start: Any = None, end: Any = None
    ) -> tuple[str, Any]:
        """``(media type, byte-chunk iterator)`` of the plugin's records; streamed, never whole in memory."""
        from .ops.export import export_stream

        check_plugin_id(plugin_id)
        if self.store.get_plugin(plugin_id) is None:
            raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
        log_event(logging.INFO, "export_data", f"export {','.join(kinds)} as {fmt}", plugin=plugin_id)
        return export_stream(self.store, plugin_id, kinds, fmt, to_ms(start), to_ms(end))

    def batch_analysis(
        self,
        plugin_ids: list[str] | None,
        analyses: Sequence[str] | None = None,
        *,
        retrain: bool = False,
        workers: int | None = None,
    ) -> dict[str, Any]:
        """Queue analysis of many plugins (all when ``plugin_ids`` is None); returns the job to poll."""
        from .jobs.batch import ANALYSES, run_batch

        chosen = tuple(analyses or ANALYSES)
        for name in chosen:
            if name not in ANALYSES:
                raise ValidationError(f"unknown analysis {name!r}; known: {', '.join(ANALYSES)}", field="analyses")
        known = {p["plugin_id"] for p in self.store.list_plugins()}
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
        settings = self.settings
        job_id = self.jobs.submit(
            "batch_analysis",
            None,
            lambda progress: run_batch(settings, list(plugin_ids), chosen, progress, workers=workers, retrain=retrain),
            params={"plugins": len(plugin_ids), "analyses": list(chosen)},
        )
        return {
            "job_id": job_id,
            "status": "queued",
            "plugins": len(plugin_ids),
            "analyses": list(chosen),
            "poll": f"/api/plugin-ai-analytics/jobs/{job_id}",
        }

    # -- the system itself -------------------------------------------------------------------

    def system_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {"version": __version__, "uptime_s": round(time.time() - self.started_at, 1)}
        try:
            status["database"] = {
                "ok": True,
                "dialect": self.store.dialect,
                "latency_ms": round(self.store.ping(), 2),
            }
        except Exception as exc:
            status["database"] = {"ok": False, "dialect": self.store.dialect, "error": str(exc)}
        with self._process.oneshot():
            status["process"] = {
                "pid": self._process.pid,
                "cpu_percent": self._process.cpu_percent(None),
                "memory_mb": round(self._process.memory_info().rss / 2**20, 1),
                "threads": self._process.num_threads(),
            }
        status["scheduler"] = self.scheduler.status()
        status["executor"] = {
            "kind": "in-process thread pool",
            "workers": self.jobs.workers,
            "queue_depth": self.jobs.queue_depth,
            "jobs": self.store.job_counts() if status["database"]["ok"] else None,
        }
        if status["database"]["ok"]:
            plugins = self.list_plugins()
            now = now_ms()
            stale = [
                p["plugin_id"]
                for p in plugins
                if p["source"] and p["last_sample"] and now - to_ms(p["last_sample"]) > 3 * p["interval_seconds"] * 1000
            ]
            rejected = self.store.rejection_counts(since_ms=now - 86_400_000)
            status["plugins"] = {
                "registered": len(plugins),
                "with_source": sum(1 for p in plugins if p["source"]),
            }
            models = self.store.active_models()
            status["models"] = {
                "active": len(models),
                "plugins_with_models": len({m["plugin_id"] for m in models}),
                "last_training": ms_to_iso(max((m["trained_at"] for m in models), default=None)),
                "training_jobs_running": self.forecasting.training_count,
            }
            open_counts = self.store.anomaly_counts("open")
            timings = self.detection.scoring_times_ms()
            status["anomaly_detection"] = {
                "detectors_in_memory": self.detection.loaded_count,
                "open_anomalies": {
                    sev: sum(c.get(sev, 0) for c in open_counts.values()) for sev in ("High", "Medium", "Low")
                },
                "scoring_p50_ms": round(timings[len(timings) // 2], 2) if timings else None,
                "scoring_p99_ms": round(timings[int(len(timings) * 0.99)], 2) if timings else None,
            }
            status["data_quality"] = {
                "stale_plugins": stale,
                "rejected_batches_24h": sum(rejected.values()),
                "plugins_with_rejections_24h": sorted(rejected),
            }
        status["ok"] = bool(status["database"]["ok"])
        return status


def _public_plugin(row: dict[str, Any], extent: dict[str, Any]) -> dict[str, Any]:
    return {
        "plugin_id": row["plugin_id"],
        "name": row["name"],
        "description": row["description"],
        "source": row["source"],
        "interval_seconds": row["interval_seconds"],
        "enabled": row["enabled"],
        "memory_limit_mb": row["memory_limit_mb"],
        "cpu_limit_percent": row["cpu_limit_percent"],
        "created_at": ms_to_iso(row["created_at"]),
        "samples": extent["samples"],
        "first_sample": ms_to_iso(extent["first_ts"]),
        "last_sample": ms_to_iso(extent["last_ts"]),
    }


def _suggestion_row(suggestion: dict[str, Any]) -> dict[str, Any]:
    evidence = dict(suggestion.get("evidence") or {})
    if suggestion.get("model"):
        evidence.setdefault("model", suggestion["model"])
    return {
        "finding": suggestion["finding"],
        "title": suggestion["title"],
        "evidence": evidence,
        "expected_effect": suggestion.get("expected_effect") or [],
        "steps": suggestion.get("steps") or [],
        "priority": suggestion["priority"],
    }


def _public_suggestion(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "suggestion_id": row["id"],
        "finding": row["finding"],
        "title": row["title"],
        "priority": row["priority"],
        "evidence": row["evidence"],
        "expected_effect": row["expected_effect"],
        "steps": row["steps"],
        "created_at": ms_to_iso(row["created_at"]),
        "updated_at": ms_to_iso(row["updated_at"]),
    }


def _public_job(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": row["job_id"],
        "kind": row["kind"],
        "plugin_id": row["plugin_id"],
        "status": row["status"],
        "progress": row["progress"],
        "created_at": ms_to_iso(row["created_at"]),
        "started_at": ms_to_iso(row["started_at"]),
        "finished_at": ms_to_iso(row["finished_at"]),
        "result": row["result"],
        "error": row["error"],
    }
