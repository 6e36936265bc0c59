"""Retention: metrics 30 days, predictions 7, anomalies 30, suggestions 90, finished jobs 30,
audit entries 400 (settings override), deleted in bounded batches with a pause after each, so ingestion is never
held up for longer than one small batch (benchmarks/retention.py measures it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..config import Settings
from ..logs import log_event
from ..store import Expiry
from ..times import DAY_MS

__all__ = ["apply_retention"]


def apply_retention(
    expiry: Expiry, settings: Settings, now_ms: int, *, sleep: Callable[[float], None] = time.sleep
) -> dict[str, int]:
    """Delete records past their retention; returns rows deleted per table.

    After each batch the run pauses as long as the batch took (at least 1 ms): at most half of the
    database's write time goes to retention, and a waiting push gets the lock between batches."""
    batch = settings.retention_batch_rows
    rules = {
        ("predictions", "target_ts"): settings.retention_predictions_days,
        ("anomalies", "start_ts"): settings.retention_anomalies_days,
        ("suggestions", "updated_at"): settings.retention_suggestions_days,
        ("rejections", "at"): settings.retention_metrics_days,
        ("audit_log", "at"): settings.retention_audit_days,
    }

    def paced(step: Callable[[], int]) -> int:
        total = 0
        while True:
            started = time.perf_counter()
            done = step()
            total += done
            if done < batch:
                return total
            sleep(max(0.001, time.perf_counter() - started))

    deleted = {"metrics": 0}
    cutoff = now_ms - int(settings.retention_metrics_days * DAY_MS)
    for plugin_id in expiry.expiring_plugins():
        deleted["metrics"] += paced(lambda p=plugin_id: expiry.delete_metrics_batch(p, cutoff, batch))
    for (table, column), days in rules.items():
        edge = now_ms - int(days * DAY_MS)
        deleted[table] = paced(lambda tb=table, col=column, e=edge: expiry.delete_batch(tb, col, e, batch))
    jobs_edge = now_ms - int(settings.retention_jobs_days * DAY_MS)
    deleted["jobs"] = paced(lambda: expiry.delete_finished_jobs(jobs_edge, batch))
    if any(deleted.values()):
        log_event(logging.INFO, "retention", "deleted expired records", **deleted)
    return deleted
