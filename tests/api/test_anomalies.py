"""Anomaly detection on arrival, over real HTTP: warm-up is explicit, an incident becomes one
event with severity, evidence and actions, operator feedback is kept, state survives restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from plugin_ai_analytics.service import AnalyticsService

from ..conftest import make_settings
from .test_forecasts import push, synthetic_plugin


def live_split(days: float = 3, live: int = 24) -> tuple[list[dict], list[dict]]:
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    samples = synthetic_plugin(days, end=end + timedelta(minutes=5 * live))
    return samples[:-live], samples[-live:]


def test_a_new_plugin_says_it_is_warming_up(api: httpx.Client) -> None:
    push(api, "fresh", synthetic_plugin(0.05))
    status = api.get("/detect-anomalies/fresh").json()
    assert status["status"].startswith("warming up: need ") and status["status"].endswith(" more samples")
    assert status["open_anomalies"] == []


def test_error_and_latency_spike_becomes_one_event_with_actions(api: httpx.Client) -> None:
    history, live = live_split()
    push(api, "shop", history)
    assert api.get("/detect-anomalies/shop").json()["status"] == "normal"
    responses = []
    for i, sample in enumerate(live):
        if 6 <= i < 12:  # a downstream failure: errors and latency jump while load stays as usual
            sample = {**sample, "error_rate": 0.35, "response_time_ms": sample["response_time_ms"] * 8}
        responses.append(api.post("/collect-metrics/shop", json=[sample]).json())
    alerts = [r["detection"]["alerts"] for r in responses if r.get("detection") and r["detection"]["alerts"]]
    assert len(alerts) == 1, responses  # one incident, one alert
    history_page = api.get("/anomalies-history/shop").json()
    incident = next(a for a in history_page["anomalies"] if a["event_id"] == alerts[0][0])
    assert {"error_rate", "response_time_ms"} <= set(incident["metrics"])
    assert incident["severity"] == "High"
    evidence = incident["evidence"]["error_rate"]
    assert evidence["observed"] == pytest.approx(0.35) and evidence["upper"] < 0.35
    assert incident["recommended_actions"] and incident["explanation"]
    assert api.get("/anomalies-history/shop", params={"severity": "Low"}).json()["anomalies"] == [
        a for a in history_page["anomalies"] if a["severity"] == "Low"
    ]

    r = api.post(f"/anomalies/shop/{incident['event_id']}/feedback", json={"label": "false_alarm"})
    assert r.status_code == 200 and r.json()["feedback"] == "false_alarm"
    r = api.post(f"/anomalies/shop/{incident['event_id']}/feedback", json={"label": "maybe"})
    assert r.status_code == 422 and r.json()["field"] == "label"
    assert api.post("/anomalies/shop/no-such-event/feedback", json={"label": "confirmed"}).status_code == 404


def test_detector_state_survives_a_restart(tmp_path, database_url: str) -> None:
    history, live = live_split(days=2)
    first = AnalyticsService(make_settings(tmp_path, database_url))
    first.start()
    first.ingest_samples("steady", history)
    seen = first.detect_anomalies("steady").samples_seen
    assert seen == len(history)
    first.close()  # persists the detector

    second = AnalyticsService(make_settings(tmp_path, database_url))
    second.start()
    try:
        second.ingest_samples("steady", live[:1])
        status = second.detect_anomalies("steady")
        assert status.samples_seen == seen + 1  # continued, not re-learnt from scratch
    finally:
        second.close()


def test_an_imported_backlog_is_learnt_and_only_its_last_day_becomes_events(tmp_path, database_url: str) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    samples = synthetic_plugin(3, end=end)
    for at in (len(samples) - 2 * 288, len(samples) - 36):  # two days ago, and three hours ago
        for i in range(at, at + 6):  # a downstream failure: errors and latency jump
            samples[i] = {**samples[i], "error_rate": 0.35, "response_time_ms": samples[i]["response_time_ms"] * 8}
    service = AnalyticsService(make_settings(tmp_path, database_url))  # not started: scored here, not by the worker
    try:
        service.ingest_samples("imported", samples)
        status = service.detect_anomalies("imported")
        assert status.samples_seen == len(samples)
        assert status.scored_now == 288  # the last 24 hours, sample by sample; the rest learnt
        events = [e.model_dump() for e in service.detection.history("imported")]
        day_ago = (end - timedelta(hours=24)).isoformat()
        assert events and all(e["start"] > day_ago for e in events)
        recent = (end - timedelta(hours=3, minutes=5)).isoformat()
        assert any(e["start"] >= recent and "error_rate" in e["metrics"] for e in events)
    finally:
        service.close()


def test_a_backlog_and_a_large_push_are_scored_as_sample_by_sample(tmp_path, database_url: str) -> None:
    """The service scores the newest day of a backlog, and a push too large for the request, as a
    block (``update_many``): the detector and its events are exactly those of ``update`` per sample."""
    from plugin_ai_analytics.anomaly import PluginDetector
    from plugin_ai_analytics.domain import METRIC_NAMES
    from plugin_ai_analytics.service.detection import SCORED_BACKLOG_SECONDS, SYNC_BATCH_LIMIT

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    samples = synthetic_plugin(3, end=end)
    for at in (len(samples) - 200, len(samples) - 40):  # a downstream failure in each part
        for i in range(at, at + 6):
            samples[i] = {**samples[i], "error_rate": 0.35, "response_time_ms": samples[i]["response_time_ms"] * 8}
    backlog, push_ = samples[:-150], samples[-150:]
    assert len(push_) > SYNC_BATCH_LIMIT
    service = AnalyticsService(make_settings(tmp_path, database_url))  # not started: scored here
    try:
        service.ingest_samples("bulk", backlog)
        service.detect_anomalies("bulk")
        service.ingest_samples("bulk", push_)
        service.detect_anomalies("bulk")
        rows = service.store.metrics.rows("bulk", start_ms=0)
        reference = PluginDetector(service.settings.anomaly_detection_sensitivity)
        cutoff = rows[len(backlog) - 1][0] - SCORED_BACKLOG_SECONDS * 1000
        learnt = [r for r in rows if r[0] <= cutoff]
        times = [datetime.fromtimestamp(r[0] / 1000, UTC) for r in rows]
        reference.learn_history(
            times[: len(learnt)], {m: [r[i] for r in learnt] for i, m in enumerate(METRIC_NAMES, start=1)}
        )
        events = {}
        for ts, row in zip(times[len(learnt) :], rows[len(learnt) :], strict=True):
            v = reference.update(ts, {m: row[i] for i, m in enumerate(METRIC_NAMES, start=1) if row[i] is not None})
            if v.event is not None:
                events[v.event.event_id] = v.event.to_dict()
        assert service.detection._detectors["bulk"].to_state() == reference.to_state()
        stored = {e.event_id: e.model_dump() for e in service.detection.history("bulk")}
        assert len(events) >= 2 and stored.keys() == events.keys()
        for event_id, event in events.items():
            assert stored[event_id]["evidence"] == event["evidence"]
            assert stored[event_id]["severity"] == event["severity"]
    finally:
        service.close()
