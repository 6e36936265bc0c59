"""Retention deletes exactly what is older than each record kind's window."""

from __future__ import annotations

from plugin_ai_analytics.collect.registry import PluginChanges
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


def test_a_plugin_registered_to_keep_its_history_is_left_alone(service: AnalyticsService) -> None:
    now = now_ms()
    old = [{"timestamp": (now - a * DAY) / 1000, "cpu_percent": 1.0} for a in (400, 31, 0)]
    service.ingest_samples("reference", old)
    service.ingest_samples("ordinary", old)
    service.update_plugin("reference", PluginChanges(keep_history=True))
    assert service.apply_retention()["metrics"] == 2  # only the ordinary plugin's two old samples
    assert service.store.metrics.extent("reference")["samples"] == 3
    assert service.store.metrics.extent("ordinary")["samples"] == 1
