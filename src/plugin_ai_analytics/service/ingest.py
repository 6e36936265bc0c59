"""Ingestion: every way samples come in (a pushed JSON batch, decoded samples from the Python
API, the instrumentation client and collectors, a history file) is validated the same way,
stored atomically, and handed to real-time detection. A rejected batch stores nothing and is
counted for data quality."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..collect.validate import MetricSample, check_plugin_id, normalise_samples, parse_batch, validate_samples
from ..config import Settings
from ..domain import METRIC_NAMES
from ..errors import AnalyticsError, PayloadTooLarge, ValidationError
from ..logs import log_event
from ..schemas import IngestResult
from ..store import MetricRecords, RejectionRecords
from ..times import ms_to_iso
from .detection import Detection

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Ingest"]


class Ingest:
    def __init__(
        self, *, settings: Settings, metrics: MetricRecords, rejections: RejectionRecords, detection: Detection
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._rejections = rejections
        self._detection = detection

    def push(self, plugin_id: str, body: bytes | str) -> IngestResult:
        """Ingest a JSON batch (``{"samples": [...]}`` or a bare list), validated whole."""
        check_plugin_id(plugin_id)
        try:
            samples = parse_batch(body, max_samples=self._settings.max_batch_samples)
        except AnalyticsError as exc:
            self._reject(plugin_id, exc, None)
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
            self._reject(plugin_id, exc, len(samples))
            raise
        return self._store(plugin_id, parsed)

    def _store(self, plugin_id: str, samples: Sequence[MetricSample]) -> IngestResult:
        try:
            rows = normalise_samples(
                plugin_id,
                samples,
                now=datetime.now(UTC),
                cpu_cores=self._settings.effective_cpu_cores,
                max_future_skew_seconds=self._settings.max_future_skew_seconds,
            )
        except ValidationError as exc:
            self._reject(plugin_id, exc, len(samples))
            raise
        stored = self._metrics.insert(plugin_id, rows)
        return IngestResult(
            plugin_id=plugin_id,
            received=len(samples),
            stored=stored,
            first=ms_to_iso(rows[0][0]),
            last=ms_to_iso(rows[-1][0]),
            detection=self._detection.on_stored(plugin_id, rows),
        )

    def _reject(self, plugin_id: str, exc: Exception, samples: int | None) -> None:
        field = getattr(exc, "field", None)
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
                stored += self.samples(plugin_id, samples).stored
            except ValidationError as exc:
                raise ValidationError(
                    f"rows {begin}-{begin + len(part) - 1}: {exc.message} ({stored} earlier rows were stored)",
                    field=exc.field,
                ) from None
            if progress:
                progress(begin + len(part))
        log_event(logging.INFO, "import", f"imported {stored} samples", plugin=plugin_id)
        return {"plugin_id": plugin_id, "rows": len(frame), "stored": stored, "metrics": columns}
