"""The health of the service itself: database, its own process, scheduler, executor, models,
detection and data quality (stale plugins, rejected batches)."""

from __future__ import annotations

import logging
import time
from typing import Any

import psutil

from .._version import __version__
from ..jobs.base import Executor
from ..jobs.scheduler import Scheduler
from ..logs import log_event
from ..schemas import SystemStatus
from ..store import Store
from ..times import DAY_MS, ms_to_iso, now_ms, to_ms
from .detection import Detection
from .forecasts import Forecasts
from .plugins import Plugins

__all__ = ["Status", "UNREACHABLE"]

UNREACHABLE = "the database could not be reached or did not answer in time (the service log has the details)"


class Status:
    def __init__(
        self,
        *,
        store: Store,
        jobs: Executor,
        scheduler: Scheduler,
        plugins: Plugins,
        forecasts: Forecasts,
        detection: Detection,
    ) -> None:
        # It reports on every part, so it reads across every record kind.
        self._store = store
        self._jobs = jobs
        self._scheduler = scheduler
        self._plugins = plugins
        self._forecasts = forecasts
        self._detection = detection
        self.started_at = time.time()
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # prime: the first reading covers time since this call

    def report(self) -> SystemStatus:
        store = self._store
        status: dict = {"version": __version__, "uptime_s": round(time.time() - self.started_at, 1)}
        try:
            status["database"] = {"ok": True, "dialect": store.dialect, "latency_ms": round(store.ping(), 2)}
        except Exception as exc:
            # The driver's message names the host, port and database: the log has it, not the answer.
            log_event(logging.WARNING, "system_status", f"database unreachable: {exc!r}")
            status["database"] = {"ok": False, "dialect": store.dialect, "error": UNREACHABLE}
        with self._process.oneshot():
            status["process"] = {
                "pid": self._process.pid,
                "cpu_percent": self._process.cpu_percent(None),
                "memory_mb": round(self._process.memory_info().rss / 2**20, 1),
                "threads": self._process.num_threads(),
            }
        database_ok = status["database"]["ok"]
        status["scheduler"] = self._scheduler.status()
        status["executor"] = {
            "kind": "in-process thread pool",
            "workers": self._jobs.workers,
            "queue_depth": self._jobs.queue_depth,
            "jobs": store.jobs.counts() if database_ok else None,
        }
        if database_ok:
            plugins = self._plugins.all()
            now = now_ms()
            stale = [
                p.plugin_id
                for p in plugins
                if p.source and p.last_sample and now - to_ms(p.last_sample) > 3 * p.interval_seconds * 1000
            ]
            rejected = store.rejections.counts(since_ms=now - DAY_MS)
            status["plugins"] = {"registered": len(plugins), "with_source": sum(1 for p in plugins if p.source)}
            models = store.models.active()
            status["models"] = {
                "active": len(models),
                "plugins_with_models": len({m["plugin_id"] for m in models}),
                "last_training": ms_to_iso(max((m["trained_at"] for m in models), default=None)),
                "training_jobs_running": self._forecasts.training_count,
            }
            runs = store.audit.query(action="retention", limit=1)
            if runs:
                details = dict(runs[0]["details"] or {})
                took = int(details.pop("took_ms", 0))
                status["retention"] = {"last_run": ms_to_iso(runs[0]["at"]), "deleted": details, "took_ms": took}
            open_counts = store.anomalies.counts("open")
            timings = self._detection.scoring_times_ms()
            status["anomaly_detection"] = {
                "detectors_in_memory": self._detection.loaded_count,
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
        status["ok"] = bool(database_ok)
        return SystemStatus(**status)

    def database_readiness(self, timeout: float) -> dict[str, Any]:
        """The readiness checks that need the database: it answers within ``timeout``, and its
        schema is at the newest migration this code knows."""
        try:
            info = self._store.readiness(timeout)
        except Exception as exc:
            log_event(logging.WARNING, "readiness", f"database unreachable: {exc!r}")
            return {
                "database": {"ok": False, "error": UNREACHABLE},
                "migrations": {"ok": False, "error": "unknown while the database is unreachable"},
            }
        current = info["schema"] == info["expected"]
        migrations: dict[str, Any] = {"ok": current, "schema": info["schema"], "expected": info["expected"]}
        if not current:
            migrations["error"] = (
                "the database schema is not at the revision this version expects (migrations run at start)"
            )
        return {"database": {"ok": True, "latency_ms": info["latency_ms"]}, "migrations": migrations}
