"""A real Prometheus Alertmanager as a contact point: an incident pushed into a plugin reaches it
with the labels and annotations an operator routes and reads on, within seconds, and is resolved
there when the event closes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from plugin_ai_analytics.service import AnalyticsService

from ..conftest import AUTH, LiveServer
from ..receivers import wait_for
from .conftest import Alertmanager, configure, warm_plugin

pytestmark = pytest.mark.slow


@pytest.fixture
def api(alert_service: AnalyticsService) -> Iterator[httpx.Client]:
    live = LiveServer(alert_service).start()
    with httpx.Client(base_url=live.url + "/api/plugin-ai-analytics", timeout=30, headers=AUTH) as client:
        yield client
    live.stop()


def test_an_incident_pushed_into_a_plugin_reaches_alertmanager_and_is_resolved_when_it_closes(
    alert_service: AnalyticsService, api: httpx.Client, alertmanager: Alertmanager
) -> None:
    configure(alert_service, [{"name": "am", "kind": "alertmanager", "url": alertmanager.url}])
    api.put("/plugins/am-shop", json={"name": "Shop", "labels": {"team": "payments"}}).raise_for_status()
    samples = warm_plugin(alert_service, "am-shop")
    opened_at = None
    event_id = None
    for i, sample in enumerate(samples):
        receipt = api.post("/collect-metrics/am-shop", json={"samples": [sample]}).json()
        if receipt["detection"] and receipt["detection"]["alerts"]:
            opened_at, event_id = time.monotonic(), receipt["detection"]["alerts"][0]
            assert i >= 20, "an alert before the failure began"
            break
    assert opened_at is not None, "the detector opened no event for the failure"

    alerts = wait_for(lambda: alertmanager.alerts(plugin_id="am-shop"), 5, "the alert in Alertmanager")
    latency = time.monotonic() - opened_at
    assert latency < 5
    (alert,) = alerts
    labels = alert["labels"]
    assert labels["alertname"] == "PluginAnomaly"
    assert labels["rule"] == "anomaly"
    assert labels["plugin_id"] == "am-shop"
    assert labels["severity"] in ("High", "Medium", "Low")
    assert labels["event_id"] == event_id
    assert labels["team"] == "payments"  # the plugin's own labels ride along for Alertmanager's routes
    assert labels["metric"] in labels["metrics"].split(",")
    annotations = alert["annotations"]
    assert annotations["summary"].startswith("am-shop: ")
    assert "observed" in annotations["description"] and "expected" in annotations["description"]
    assert annotations["recommended_actions"].strip()
    assert annotations["dashboard_url"] == "http://dashboard.example:8000/plugin-ai-analytics#/plugin/am-shop"
    assert alert["generatorURL"] == annotations["dashboard_url"]
    assert alert["status"]["state"] == "active"

    # calm samples close the event; Alertmanager hears it resolved
    for sample in samples[i + 1 :]:
        receipt = api.post("/collect-metrics/am-shop", json={"samples": [sample]}).json()
        if receipt["detection"] and receipt["detection"]["open_event"] is None:
            break
    else:
        pytest.fail("the event did not close on 30 calm samples")
    wait_for(lambda: not alertmanager.alerts(plugin_id="am-shop"), 5, "Alertmanager to resolve the alert")
    (listed,) = api.get("/alerts", params={"plugin_id": "am-shop"}).json()["alerts"]
    assert listed["state"] == "resolved" and listed["ends_at"]
    sent = api.get("/alerts/deliveries", params={"contact_point": "am"}).json()["deliveries"]
    assert {d["status"] for d in sent} == {"firing", "resolved"}
    assert all(d["state"] == "delivered" and d["last_status"].startswith("HTTP 2") for d in sent)
