"""Pull collection: each registered plugin with a source (a local process, a Prometheus endpoint,
a PromQL query) is sampled on its interval by the scheduler, or once on demand; what a source
reads goes through ingestion like any pushed sample.

While the store cannot take samples (the database down, refusing connections or stalled), what
the sources read is kept in a spool on disk per plugin (``collect/spool.py``, bounded by
``AI_ANALYTICS_SPOOL_MAX_BYTES``) and stored, oldest first, at the next collection that finds the
store back: a new sample always goes behind those waiting, so the order is kept."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..collect.sources import build_source
from ..collect.spool import Spool
from ..collect.validate import COUNT_METRICS
from ..domain import METRIC_NAMES
from ..errors import AnalyticsError, NotFound, SourceError, ValidationError
from ..jobs.scheduler import Scheduler
from ..logs import log_event
from ..schemas import IngestResult, SourceStatus
from ..security.outbound import Allowlist
from ..store import PluginRecords
from ..store.database import is_unavailable
from ..times import ms_to_iso, now_ms
from .ingest import Ingest

__all__ = ["Sources"]


class Sources:
    def __init__(
        self,
        *,
        plugins: PluginRecords,
        scheduler: Scheduler,
        ingest: Ingest,
        allow: Allowlist | None = None,
        spool_dir: Path | None = None,
        spool_max_bytes: int = 10_000_000,
        max_batch: int = 10_000,
    ) -> None:
        self._plugins = plugins
        self._spool_dir = spool_dir
        self._spool_max_bytes = spool_max_bytes
        self._max_batch = max_batch
        self._spools: dict[str, Spool] = {}
        # Outbound requests of HTTP sources are guarded (SSRF): private addresses need allow-listing.
        self._allow = allow if allow is not None else Allowlist()
        self._scheduler = scheduler
        self._ingest = ingest
        self._sources: dict[str, Any] = {}
        # plugin → the registration (``updated_at``) its schedule was made from
        self._scheduled_from: dict[str, int] = {}
        # plugin → how its source answered: consecutive failures, last error, since, last success
        self._status: dict[str, dict[str, Any]] = {}

    def schedule(self, plugin: dict[str, Any]) -> None:
        """Sample the plugin's source on its interval from now on (or stop, without one)."""
        plugin_id = plugin["plugin_id"]
        name = _task(plugin_id)
        self._sources.pop(plugin_id, None)
        self._scheduled_from[plugin_id] = plugin.get("updated_at") or 0
        if not plugin.get("source") or not plugin.get("enabled", True):
            self._scheduler.cancel(name)
            return
        interval = float(plugin.get("interval_seconds") or 60.0)
        self._scheduler.every(name, interval, lambda: self._collect_scheduled(plugin_id))

    def forget(self, plugin_id: str) -> None:
        self._scheduler.cancel(_task(plugin_id))
        self._sources.pop(plugin_id, None)
        self._scheduled_from.pop(plugin_id, None)
        self._status.pop(plugin_id, None)

    def status(self, plugin_id: str) -> SourceStatus | None:
        """How the plugin's source has answered (None before its first read in this process)."""
        state = self._status.get(plugin_id)
        if state is None:
            return None
        return SourceStatus(
            ok=state["failures"] == 0,
            failures=state["failures"],
            last_error=state["error"],
            failing_since=ms_to_iso(state["since"]),
            last_success=ms_to_iso(state["ok_at"]),
        )

    def _note(self, plugin_id: str, error: str | None) -> None:
        state = self._status.setdefault(plugin_id, {"failures": 0, "error": None, "since": None, "ok_at": None})
        if error is None:
            state.update(failures=0, error=None, since=None, ok_at=now_ms())
        else:
            state.update(failures=state["failures"] + 1, error=error[:500], since=state["since"] or now_ms())

    def follow_registry(self) -> int:
        """Bring the schedule in line with the registry as it is in the database, so a plugin that
        another process registered, changed or deleted (``plugins load``, another API replica) is
        sampled as registered without a restart. Returns how many plugins changed."""
        rows = {p["plugin_id"]: p for p in self._plugins.all()}
        changed = 0
        for plugin_id, row in rows.items():
            if self._scheduled_from.get(plugin_id) != (row.get("updated_at") or 0):
                self.schedule(row)
                changed += 1
        for plugin_id in set(self._scheduled_from) - rows.keys():
            self.forget(plugin_id)
            changed += 1
        if changed:
            log_event(logging.INFO, "register_plugin", f"followed the registry: {changed} plugin(s) changed")
        return changed

    def collect_once(self, plugin_id: str) -> IngestResult:
        """Read the plugin's source now and store one sample."""
        source = self._source_for(plugin_id)
        at = datetime.now(UTC)
        try:
            values = source.collect()
        except SourceError as exc:
            self._note(plugin_id, exc.message)
            raise
        except Exception as exc:
            self._note(plugin_id, f"{type(exc).__name__}: {exc}")
            raise SourceError(f"source of {plugin_id!r} failed: {exc}", plugin_id=plugin_id) from exc
        self._note(plugin_id, None)
        values = {k: _whole(k, v) for k, v in values.items() if k in METRIC_NAMES and v is not None}
        if not values:
            # e.g. the first scrape of counters: rates need two readings. Nothing is invented.
            return IngestResult(plugin_id=plugin_id, received=0, stored=0, note="source gave no values yet")
        return self._store({"timestamp": at.isoformat(), **values}, plugin_id)

    def spooled(self, plugin_id: str) -> int:
        """Bytes of samples waiting in the plugin's spool for the store to come back."""
        return self._spool(plugin_id).size if self._spool_dir is not None else 0

    def _spool(self, plugin_id: str) -> Spool:
        spool = self._spools.get(plugin_id)
        if spool is None:
            assert self._spool_dir is not None
            spool = self._spools.setdefault(
                plugin_id, Spool(self._spool_dir / f"{plugin_id}.jsonl", self._spool_max_bytes)
            )
        return spool

    def _store(self, sample: dict[str, Any], plugin_id: str) -> IngestResult:
        """Store the sample, behind any waiting in the spool; into the spool when the store
        cannot take it now (the error is raised on, so the caller sees the outage)."""
        if self._spool_dir is None:
            return self._ingest.samples(plugin_id, [sample])
        spool = self._spool(plugin_id)
        with spool.lock:
            if not spool:
                try:
                    return self._ingest.samples(plugin_id, [sample])
                except Exception as exc:
                    if not is_unavailable(exc):
                        raise
                    self._park(spool, plugin_id, sample)
                    raise
            self._park(spool, plugin_id, sample)
            return self._replay(spool, plugin_id)

    def _park(self, spool: Spool, plugin_id: str, sample: dict[str, Any]) -> None:
        if spool.append([sample]):
            log_event(
                logging.WARNING,
                "collect_metrics",
                f"spool full ({spool.max_bytes} bytes, AI_ANALYTICS_SPOOL_MAX_BYTES): sample dropped "
                f"({spool.dropped} so far)",
                plugin=plugin_id,
            )

    def _replay(self, spool: Spool, plugin_id: str) -> IngestResult:
        """Store what waits in the spool, oldest first, a batch at a time; each batch leaves the
        spool once stored (raises, leaving the rest, if the store fails again)."""
        received = stored = merged = 0
        last: IngestResult | None = None
        while True:
            samples, lines = spool.head(self._max_batch)
            if not lines:
                break
            try:
                if samples:
                    last = self._ingest.samples(plugin_id, samples)
                    received, stored, merged = received + last.received, stored + last.stored, merged + last.merged
            except AnalyticsError as exc:  # refused as invalid: it would be refused forever
                log_event(
                    logging.ERROR,
                    "collect_metrics",
                    f"{len(samples)} spooled samples refused, dropped: {exc.message}",
                    plugin=plugin_id,
                )
            spool.consume(lines)
        log_event(logging.INFO, "collect_metrics", f"replayed {received} spooled samples", plugin=plugin_id)
        if last is None:
            return IngestResult(plugin_id=plugin_id, received=0, stored=0, note="spooled samples were refused")
        return last.model_copy(update={"received": received, "stored": stored, "merged": merged})

    def _source_for(self, plugin_id: str) -> Any:
        source = self._sources.get(plugin_id)
        if source is None:
            plugin = self._plugins.get(plugin_id)
            if plugin is None:
                raise NotFound(f"plugin {plugin_id!r} is not registered", plugin_id=plugin_id)
            if not plugin.get("source"):
                raise ValidationError(
                    f"plugin {plugin_id!r} has no source to collect from: send a batch of samples in the "
                    "body, or register a source (process, prometheus or promql)",
                    field="body",
                )
            source = build_source(plugin["source"], allow=self._allow)
            self._sources[plugin_id] = source
        return source

    def _collect_scheduled(self, plugin_id: str) -> None:
        try:
            self.collect_once(plugin_id)
        except Exception as exc:
            log_event(logging.ERROR, "collect_metrics", f"scheduled collection failed: {exc}", plugin=plugin_id)
            exc.logged = True  # type: ignore[attr-defined]  # the scheduler counts it without a second line
            raise


def _whole(metric: str, value: Any) -> Any:
    """A count as a source reads it (Prometheus answers floats; a rate over an interval has a
    fraction) rounded to the whole count the API stores; anything not finite is left for
    validation to refuse by name."""
    if metric in COUNT_METRICS and isinstance(value, float) and math.isfinite(value):
        return int(round(value))
    return value


def _task(plugin_id: str) -> str:
    return f"collect:{plugin_id}"
