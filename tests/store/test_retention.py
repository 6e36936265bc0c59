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


def test_an_import_older_than_retention_is_refused_unless_kept(service: AnalyticsService) -> None:
    """Issue 10 #1: a 2014 history was stored, then deleted by retention 14 s later without a word."""
    import pandas as pd

    from plugin_ai_analytics.errors import ValidationError

    old = pd.DataFrame(
        {"timestamp": pd.date_range("2014-02-14", periods=12, freq="5min", tz="UTC"), "cpu_percent": 1.0}
    )
    try:
        service.import_frame("nab", old)
    except ValidationError as exc:
        assert "12 of 12 rows are older than the metrics retention of 30 days" in exc.message
        assert exc.field == "timestamp"
    else:
        raise AssertionError("an import retention would delete was accepted")
    assert service.store.plugins.get("nab") is None  # nothing stored, not even the registration
    assert service.import_frame("nab", old, keep_history=True)["stored"] == 12
    assert service.get_plugin("nab").keep_history
    assert service.apply_retention()["metrics"] == 0
    assert service.store.metrics.extent("nab")["samples"] == 12


def test_a_push_older_than_retention_says_so(service: AnalyticsService) -> None:
    now = now_ms()
    result = service.ingest_samples("late", [{"timestamp": (now - 40 * DAY) / 1000, "cpu_percent": 2.0}])
    assert result.stored == 1
    assert len(result.warnings) == 1 and "older than the metrics retention of 30 days" in result.warnings[0]
    fresh = service.ingest_samples("late", [{"timestamp": now / 1000, "cpu_percent": 2.0}])
    assert fresh.warnings == []


def test_finished_jobs_older_than_30_days_go_with_their_batch_parts(service: AnalyticsService) -> None:
    now = now_ms()
    jobs = service.store.jobs
    old = jobs.create("batch_analysis", None)
    jobs.update(old, status="succeeded", finished_at=now - 31 * DAY)
    service.store.batch_parts.begin(old, "a", "w1")
    recent = jobs.create("train", "a")
    jobs.update(recent, status="failed", finished_at=now - 29 * DAY)
    old_running = jobs.create("batch_analysis", None)  # running for 31 days: not finished, kept
    jobs.update(old_running, status="running", started_at=now - 31 * DAY)
    service.store.batch_parts.begin(old_running, "a", "w1")
    assert service.apply_retention()["jobs"] == 1
    assert {j["job_id"] for j in jobs.recent()} == {recent, old_running}
    assert (
        service.store.batch_parts.results(old) == []
        and service.store.batch_parts.begin(old, "a", "w2")["attempts"] == 1
    )
    assert service.store.batch_parts.begin(old_running, "a", "w2")["attempts"] == 2
