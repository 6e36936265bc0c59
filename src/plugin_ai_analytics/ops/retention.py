"""Retention: metrics 30 days, predictions 7, anomalies 30, suggestions 90 (settings override)."""

from __future__ import annotations

import logging

from ..config import Settings
from ..logs import log_event
from ..store import Expiry
from ..times import DAY_MS

__all__ = ["apply_retention"]


def apply_retention(expiry: Expiry, settings: Settings, now_ms: int) -> dict[str, int]:
    """Delete records past their retention; returns rows deleted per table."""
    rules = {
        ("metrics", "ts"): settings.retention_metrics_days,
        ("predictions", "target_ts"): settings.retention_predictions_days,
        ("anomalies", "start_ts"): settings.retention_anomalies_days,
        ("suggestions", "updated_at"): settings.retention_suggestions_days,
        ("rejections", "at"): settings.retention_metrics_days,
    }
    deleted = {}
    for (table, column), days in rules.items():
        deleted[table] = expiry.delete_before(table, column, now_ms - int(days * DAY_MS))
    if any(deleted.values()):
        log_event(logging.INFO, "retention", "deleted expired records", **deleted)
    return deleted
