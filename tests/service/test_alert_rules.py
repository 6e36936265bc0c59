"""The scheduled alert rules, each raised by the real condition it watches and resolved when the
condition goes: forecasts and trends that reach a limit (with the time to impact), an ongoing
condition, accuracy at or below 70 %, intervals that stopped covering, a failed training or
prediction, too little data after a day, a failing source, stale data, the service's backlog."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from plugin_ai_analytics.collect.registry import PluginChanges
from plugin_ai_analytics.errors import SourceError
from plugin_ai_analytics.schemas import AlertRecord
from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.store import tables
from plugin_ai_analytics.times import HOUR_MS, now_ms

from ..alerting.conftest import alert_settings, open_event
from ..api.test_forecasts import synthetic_plugin


@pytest.fixture
def service(tmp_path: Path) -> Iterator[AnalyticsService]:
    svc = AnalyticsService(alert_settings(tmp_path))
    svc.start()
    yield svc
    svc.close()


def firing(service: AnalyticsService, rule: str) -> dict[str, AlertRecord]:
    """Evaluate now; the firing alerts of ``rule`` by plugin."""
    service.alerting.evaluate()
    return {a.plugin_id or "": a for a in service.alerts(state="firing", rule=rule).alerts}


def memory_only(days: float, end: datetime | None = None) -> list[dict]:
    return [{"timestamp": s["timestamp"], "memory_mb": s["memory_mb"]} for s in synthetic_plugin(days, end=end)]


@pytest.mark.slow
def test_a_leak_and_a_forecast_that_reach_the_limit_alert_with_the_time_to_impact(service: AnalyticsService) -> None:
    # memory grows 0.6 MiB/h to ~903 MiB; the limit is a day or so away
    service.register_plugin({"plugin_id": "leaky", "memory_limit_mb": 915})
    service.ingest_samples("leaky", memory_only(7))
    report = service.optimization_suggestions("leaky")
    assert any(s.finding == "memory_leak" for s in report.suggestions)
    service.train_models_now("leaky")

    (trend,) = firing(service, "time_to_limit").values()
    hours = trend.evidence["hours_to_impact"]
    assert 0 < hours <= 72 and trend.severity == ("High" if hours <= 24 else "Medium")
    assert trend.metric == "memory_mb" and "MiB/h without release" in trend.summary and "h from now" in trend.summary
    assert trend.recommended_actions and trend.dashboard_url.endswith("#/plugin/leaky")

    forecast = firing(service, "forecast_crosses_limit")["leaky"]
    assert forecast.metric == "memory_mb" and forecast.severity in ("High", "Medium")
    assert "reaches its limit 915" in forecast.summary and "(in ~" in forecast.summary
    assert forecast.evidence["limit"] == 915 and forecast.evidence["hours_to_impact"] >= 0

    condition = firing(service, "ongoing_condition")["leaky"]  # 903 MiB is past 90 % of 915 already
    assert condition.severity == "High" and "memory at 9" in condition.summary

    service.update_plugin("leaky", _changes(memory_limit_mb=4096))
    service.predict("leaky")
    assert firing(service, "ongoing_condition") == {} and firing(service, "forecast_crosses_limit") == {}
    (resolved,) = service.alerts(state="resolved", rule="ongoing_condition").alerts
    assert resolved.ends_at is not None


def _changes(**fields: float) -> PluginChanges:
    return PluginChanges(**fields)


def stored_forecast(service: AnalyticsService, plugin_id: str, *, hits: bool) -> None:
    """A day of past hourly forecasts of CPU (always 50, 80 % interval 45..55), scored against
    actuals at 20 (far off, outside the interval) or 50 (right, inside)."""
    start = now_ms() - 30 * HOUR_MS
    rows, samples = [], []
    for h in range(25):
        target = start + h * HOUR_MS
        rows.append(("cpu_percent", target, 50.0, 45.0, 55.0, 40.0, 60.0, 80.0, False, "cpu_percent/v1:test"))
        stamp = datetime.fromtimestamp(target / 1000, UTC).isoformat()
        samples.append({"timestamp": stamp, "cpu_percent": 50.0 if hits else 20.0})
    service.ingest_samples(plugin_id, samples)
    service.store.predictions.replace(plugin_id, start - HOUR_MS, rows)
    assert service.tracking.score_due() == 25


def test_accuracy_at_or_below_70_and_intervals_that_stopped_covering_alert(service: AnalyticsService) -> None:
    stored_forecast(service, "wrong", hits=False)
    stored_forecast(service, "right", hits=True)
    accuracy = firing(service, "model_accuracy_low")
    assert set(accuracy) == {"wrong"}
    assert accuracy["wrong"].evidence["accuracy_percent"] == 0.0 and "(≤ 70 %)" in accuracy["wrong"].summary
    coverage = firing(service, "intervals_not_covering")
    assert set(coverage) <= {"wrong"}  # 25 scored: too few to judge coverage (48)


def test_a_prediction_refused_by_its_integrity_check_alerts_until_a_forecast_succeeds(
    service: AnalyticsService,
) -> None:
    service.ingest_samples("tampered", memory_only(3))
    service.train_models_now("tampered")
    with service.store.engine.begin() as conn:
        conn.execute(update(tables.models).where(tables.models.c.plugin_id == "tampered").values(state='{"x": 1}'))
    service.ingest_samples("tampered", [{"timestamp": datetime.now(UTC).isoformat(), "memory_mb": 850.0}])
    service.predict("tampered")
    alert = firing(service, "prediction_failed")["tampered"]
    assert alert.metric == "memory_mb" and "fails its checksum" in alert.summary
    service.train_models_now("tampered")
    assert firing(service, "prediction_failed") == {}


def test_a_failed_training_job_alerts_until_one_succeeds(service: AnalyticsService) -> None:
    def broken(progress):
        raise RuntimeError("out of memory while fitting")

    job = service.jobs.submit("train_models", "flaky", broken)
    _wait(lambda: service.get_job(job).status == "failed")
    alert = firing(service, "training_failed")["flaky"]
    assert "out of memory while fitting" in alert.summary and alert.evidence["job_id"] == job
    done = service.jobs.submit("train_models", "flaky", lambda progress: {"trained": {}})
    _wait(lambda: service.get_job(done).status == "succeeded")
    assert firing(service, "training_failed") == {}


def test_too_little_data_after_a_day_of_sending(service: AnalyticsService) -> None:
    service.ingest_samples("young", synthetic_plugin(1.1))
    service.ingest_samples("newborn", synthetic_plugin(0.5))
    alerts = firing(service, "too_little_data")
    assert set(alerts) == {"young"}
    assert alerts["young"].severity == "Low" and "more hours of samples needed" in alerts["young"].summary


def test_a_failing_source_and_stale_data_alert(service: AnalyticsService) -> None:
    service.register_plugin(
        {
            "plugin_id": "scraped",
            "source": {"type": "prometheus", "url": "http://127.0.0.1:9/metrics"},
            "interval_seconds": 60,
        }
    )
    for _ in range(3):
        with pytest.raises(SourceError):
            service.collect_once("scraped")
    alert = firing(service, "source_failing")["scraped"]
    assert alert.evidence["failures"] == 3 and "prometheus source failed 3 times" in alert.summary
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    service.register_plugin({"plugin_id": "quiet", "interval_seconds": 60})
    service.ingest_samples("quiet", [{"timestamp": hour_ago.isoformat(), "cpu_percent": 5.0}])
    service.ingest_samples("chatty", [{"timestamp": datetime.now(UTC).isoformat(), "cpu_percent": 5.0}])
    stale = firing(service, "data_stale")
    assert set(stale) == {"quiet"} and "no sample for 1.0 h" in stale["quiet"].summary


def test_the_service_alerts_on_its_own_backlog(service: AnalyticsService) -> None:
    release = threading.Event()
    for _ in range(20):
        service.jobs.submit("batch_analysis", None, lambda progress: release.wait(30) and {})
    try:
        alert = firing(service, "queue_backlog")[""]
        assert alert.plugin_id is None and alert.evidence["queue_depth"] >= 20
        assert alert.dashboard_url.endswith("#/alerts")
    finally:
        release.set()
    _wait(lambda: service.jobs.queue_depth == 0)
    assert firing(service, "queue_backlog") == {}


def test_an_anomaly_alert_whose_event_is_gone_is_resolved(service: AnalyticsService) -> None:
    service.register_plugin({"plugin_id": "gone"})
    open_event(service, "gone")
    assert service.alerts(state="firing").count == 1
    service.delete_plugin("gone")
    service.alerting.evaluate()
    (alert,) = service.alerts().alerts
    assert alert.state == "resolved"


def _wait(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_events_stored_by_a_batch_worker_raise_their_alerts_in_the_same_transaction(tmp_path: Path) -> None:
    from plugin_ai_analytics.service.batch import Analysts
    from plugin_ai_analytics.store import Store

    settings = alert_settings(tmp_path)
    store = Store(settings.effective_database_url)  # what a batch worker process opens
    try:
        analysts = Analysts.open(settings, store)
        analysts.store.anomalies.upsert(
            "batch-plugin",
            [
                {
                    "event_id": "e1",
                    "start_ts": now_ms() - 60_000,
                    "end_ts": now_ms(),
                    "metrics": ["cpu_percent"],
                    "kind": "spike",
                    "score": 0.9,
                    "severity": "Medium",
                    "explanation": {},
                    "actions": [],
                    "state": "open",
                }
            ],
        )
        (alert,) = store.alerts.find(state="firing")
        assert (alert["plugin_id"], alert["rule"], alert["source_key"]) == ("batch-plugin", "anomaly", "e1")
    finally:
        store.close()
