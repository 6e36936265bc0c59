"""Retention deletes exactly what is older than each record kind's window."""

from __future__ import annotations

from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.times import now_ms

DAY = 86_400_000


def test_metrics_older_than_30_days_are_deleted(service: AnalyticsService) -> None:
    now = now_ms()
    ages = [31, 30.5, 29, 1, 0]
    service.ingest_samples("old", [{"timestamp": (now - a * DAY) / 1000, "cpu_percent": 1.0} for a in ages])
    deleted = service.apply_retention()
    assert deleted["metrics"] == 2
    assert service.store.metrics.extent("old")["samples"] == 3
