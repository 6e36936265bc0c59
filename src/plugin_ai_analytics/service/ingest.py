"""Ingestion: every way samples come in (a pushed JSON batch, decoded samples from the Python
API, the instrumentation client and collectors, a history file) is validated the same way,
stored atomically, and handed to real-time detection. A rejected batch stores nothing and is
counted for data quality."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..collect.validate import (
    COUNT_METRICS,
    MetricSample,
    check_plugin_id,
    normalise_samples,
    parse_batch,
    validate_samples,
)
from ..config import Settings
from ..domain import METRIC_NAMES
from ..errors import AnalyticsError, PayloadTooLarge, ValidationError
from ..logs import log_event
from ..schemas import IngestResult
from ..store import MetricRecords, PluginRecords, RejectionRecords, statement_timeout
from ..times import DAY_MS, ms_to_iso, now_ms
from .detection import Detection
from .writer import MetricWriter

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Ingest"]


class Ingest:
    def __init__(
        self,
        *,
        settings: Settings,
        metrics: MetricRecords,
        rejections: RejectionRecords,
        plugins: PluginRecords,
        detection: Detection,
        writer: MetricWriter | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        # SQLite: the one writer thread (group commit); PostgreSQL or none given: direct writes.
        self._writer = writer or MetricWriter(metrics, single_writer=False)
        self._plugins = plugins
        self._rejections = rejections
        self._detection = detection

    def push(self, plugin_id: str, body: bytes | str) -> IngestResult:
        """Ingest a JSON batch (``{"samples": [...]}`` or a bare list), validated whole."""
        check_plugin_id(plugin_id)
        try:
            samples = parse_batch(body, max_samples=self._settings.max_batch_samples)
        except AnalyticsError as exc:
            self.reject(plugin_id, exc, None)
            raise
        return self._store(plugin_id, samples)

    def samples(self, plugin_id: str, samples: Sequence[dict[str, Any]]) -> IngestResult:
        """Ingest already-decoded samples (Python API, instrumentation client, collectors, import)."""
        check_plugin_id(plugin_id)
        try:
            if len(samples) > self._settings.max_batch_samples:
                raise PayloadTooLarge(
                    f"samples: batch of {len(samples)} exceeds the limit of {self._settings.max_batch_samples}",
                    field="samples",
                )
            if not samples:
                raise ValidationError("samples: batch is empty", field="samples")
            parsed = validate_samples(samples)
        except AnalyticsError as exc:
            self.reject(plugin_id, exc, len(samples))
            raise
        return self._store(plugin_id, parsed)

    def _store(self, plugin_id: str, samples: Sequence[MetricSample]) -> IngestResult:
        try:
            rows = normalise_samples(
                plugin_id,
                samples,
                now=datetime.now(UTC),
                max_future_skew_seconds=self._settings.max_future_skew_seconds,
            )
        except ValidationError as exc:
            self.reject(plugin_id, exc, len(samples))
            raise
        # Stored and scored as one step per plugin: with several API replicas, under the plugin's
        # lock across processes, so pushes of one plugin are scored once each and in order. A write
        # answers within seconds or fails (503, the client retries): a stalled database must not
        # hold a request thread and a connection for the analyses' longer timeout.
        with self._detection.serialised(plugin_id):
            with statement_timeout(self._settings.db_ingest_timeout):
                stored, merged = self._writer.write(plugin_id, rows)
            verdict = self._detection.on_stored(plugin_id, rows)
        return IngestResult(
            plugin_id=plugin_id,
            received=len(samples),
            stored=stored,
            merged=merged,
            first=ms_to_iso(rows[0][0]),
            last=ms_to_iso(rows[-1][0]),
            detection=verdict,
            warnings=self._retention_warning(plugin_id, [r[0] for r in rows]),
        )

    def _expiring(self, plugin_id: str, stamps_ms: Sequence[int]) -> tuple[int, int]:
        """How many of these sample times the next retention run deletes, and the cutoff (ms)."""
        days = self._settings.retention_metrics_days
        cutoff = now_ms() - int(days * DAY_MS)
        if not stamps_ms or min(stamps_ms) >= cutoff:
            return 0, cutoff
        plugin = self._plugins.get(plugin_id)
        if plugin is not None and plugin.get("keep_history"):
            return 0, cutoff
        return sum(1 for ts in stamps_ms if ts < cutoff), cutoff

    def _retention_warning(self, plugin_id: str, stamps_ms: Sequence[int]) -> list[str]:
        expiring, _ = self._expiring(plugin_id, stamps_ms)
        if not expiring:
            return []
        return [
            f"{expiring} sample(s) are older than the metrics retention of "
            f"{self._settings.retention_metrics_days:g} days (AI_ANALYTICS_RETENTION_METRICS_DAYS) and will be "
            f"deleted by the next retention run (hourly); set keep_history on plugin {plugin_id!r} "
            "(PATCH /plugins/{id}) to keep them"
        ]

    def reject(self, plugin_id: str, exc: Exception, samples: int | None) -> None:
        """Log a refused request and count it for data quality (system-status)."""
        field = getattr(exc, "field", None) or getattr(exc, "details", {}).get("field")
        message = getattr(exc, "message", str(exc))
        log_event(logging.WARNING, "collect_metrics", f"rejected batch: {message}", plugin=plugin_id)
        try:
            self._rejections.record(plugin_id, field, message, samples or 0)
        except Exception:  # the rejection log must never hide the real error from the client
            log_event(logging.ERROR, "collect_metrics", "could not record a rejection", plugin=plugin_id)

    def history_file(
        self,
        plugin_id: str,
        frame: pd.DataFrame,
        *,
        chunk: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Import a history frame (``timestamp`` + metric columns) in chunks; each chunk is atomic."""
        import pandas as pd  # start-up cost: only imports need pandas here

        check_plugin_id(plugin_id)
        stamps = (pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").asi8 // 10**6).tolist()
        expiring, cutoff = self._expiring(plugin_id, stamps)
        if expiring:
            # Told before anything is stored: retention would delete these within the hour.
            raise ValidationError(
                f"{expiring} of {len(frame)} rows are older than the metrics retention of "
                f"{self._settings.retention_metrics_days:g} days (before {ms_to_iso(cutoff)}; "
                "AI_ANALYTICS_RETENTION_METRICS_DAYS) and the next retention run would delete them: "
                "import with --shift-to-now to move the history so that it ends now, or with --keep to keep "
                f"plugin {plugin_id!r}'s records out of retention",
                field="timestamp",
                expiring=expiring,
            )
        stored = 0
        columns = [c for c in frame.columns if c in METRIC_NAMES]
        for begin in range(0, len(frame), chunk):
            part = frame.iloc[begin : begin + chunk]
            samples = []
            for ts, *values in zip(part["timestamp"], *(part[c] for c in columns), strict=True):
                sample: dict[str, Any] = {"timestamp": ts.isoformat()}
                for name, value in zip(columns, values, strict=True):
                    if not pd.isna(value):
                        # a file's count column with gaps is read as floats: 1200.0 is the count 1200
                        whole = name in COUNT_METRICS and isinstance(value, float) and value.is_integer()
                        sample[name] = int(value) if whole else value
                if len(sample) > 1:  # a row with every metric empty carries nothing to store
                    samples.append(sample)
            if not samples:
                continue
            try:
                result = self.samples(plugin_id, samples)
                stored += result.stored + result.merged
            except ValidationError as exc:
                raise ValidationError(
                    f"rows {begin}-{begin + len(part) - 1}: {exc.message} ({stored} earlier rows were stored)",
                    field=exc.field,
                ) from None
            if progress:
                progress(begin + len(part))
        log_event(logging.INFO, "import", f"imported {stored} samples", plugin=plugin_id)
        return {"plugin_id": plugin_id, "rows": len(frame), "stored": stored, "metrics": columns}
