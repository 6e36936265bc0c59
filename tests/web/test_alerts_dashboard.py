"""The alerts view in a real Chromium: a silence created on the dashboard stops the notifications of
the alerts it matches (a real webhook receiver counts them) until it expires, the alert list shows
the silenced alert as such, and the delivery log shows the receiver's answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plugin_ai_analytics.service import AnalyticsService

from ..alerting.conftest import alert_settings, open_event
from ..conftest import LiveServer
from ..receivers import WebhookReceiver, wait_for
from .test_dashboard import SHOTS, open_view

SILENCE_SECONDS = 15


@pytest.fixture
def alerting_server(tmp_path: Path) -> Iterator[tuple[LiveServer, AnalyticsService, WebhookReceiver]]:
    receiver = WebhookReceiver()
    service = AnalyticsService(alert_settings(tmp_path))
    service.start()
    # every plugin its own group, repeated every 2 s while it fires: silence shows as silence at once
    service.replace_alerting_config(
        {
            "contact_points": [{"name": "oncall", "kind": "webhook", "url": receiver.url}],
            "policies": [
                {
                    "name": "all",
                    "contact_points": ["oncall"],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "2s",
                }
            ],
        }
    )
    live = LiveServer(service).start()
    yield live, service, receiver
    live.stop()
    service.close()
    receiver.stop()


def notified(receiver: WebhookReceiver, plugin: str, after: float = 0.0) -> int:
    """Notifications received after ``after`` (monotonic) with ``plugin``'s alert firing."""
    return sum(
        1
        for r in receiver.requests
        if r.at > after and any(a["plugin_id"] == plugin and a["status"] == "firing" for a in r.json["alerts"])
    )


def row(page: Any, plugin: str) -> Any:
    return page.locator(f'#alerts-table tr[data-plugin="{plugin}"]')


def test_a_silence_made_on_the_dashboard_stops_notifications_until_it_expires(alerting_server, page: Any) -> None:
    server, service, receiver = alerting_server
    open_event(service, "web-shop", severity="High")
    open_event(service, "web-cart", severity="Medium")
    wait_for(lambda: notified(receiver, "web-shop") >= 2, 10, "web-shop's repeated notifications")

    open_view(page, server, "#/alerts")
    assert row(page, "web-shop").get_attribute("data-status") == "active"
    assert "Notified" in row(page, "web-shop").inner_text()
    row(page, "web-shop").locator("button[data-silence]").click()  # fills the form with its plugin
    assert page.locator("#s-matchers").input_value() == "plugin_id=web-shop"
    page.fill("#s-duration", f"{SILENCE_SECONDS}s")
    page.fill("#s-comment", "deploying a fix")
    page.click("#s-create")
    page.wait_for_function("document.querySelector('#silences li[data-state=\"active\"]')")
    silenced_at = time.monotonic()
    page.wait_for_function(
        "document.querySelector('#alerts-table tr[data-plugin=\"web-shop\"]')?.dataset.status === 'silenced'"
    )
    shop = row(page, "web-shop").inner_text()
    assert "Silenced" in shop
    assert row(page, "web-cart").get_attribute("data-status") == "active"
    assert "plugin_id=web-shop" in page.locator("#silences").inner_text()
    assert "deploying a fix" in page.locator("#silences").inner_text()
    page.locator("#deliveries tr[data-state='delivered']").first.wait_for()
    assert "HTTP 200 · ok" in page.locator("#deliveries").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "alerts.png"), full_page=True)

    # while the silence holds: web-cart keeps being repeated, web-shop is not notified (one already
    # on its way when the silence was made may still land in its first second)
    time.sleep(SILENCE_SECONDS - 4)
    assert notified(receiver, "web-shop", after=silenced_at + 1.5) == 0
    assert notified(receiver, "web-cart", after=silenced_at) >= 3

    # it expires: web-shop is notified again, and the dashboard says so
    wait_for(
        lambda: notified(receiver, "web-shop", after=silenced_at + 1.5) >= 1, SILENCE_SECONDS, "notifications again"
    )
    assert time.monotonic() - silenced_at >= SILENCE_SECONDS - 0.5
    page.wait_for_function(
        "document.querySelector('#alerts-table tr[data-plugin=\"web-shop\"]')?.dataset.status === 'active'",
        timeout=15_000,
    )
    page.wait_for_function("document.querySelector('#silences li[data-state=\"expired\"]')")


def test_the_alerts_view_speaks_korean(alerting_server, new_page) -> None:
    server, service, _ = alerting_server
    open_event(service, "web-shop", severity="High")
    page = new_page(locale="ko-KR")
    open_view(page, server, "#/alerts")
    assert page.locator("h1").inner_text() == "알림"
    assert "통지됨" in row(page, "web-shop").inner_text()
    en, ko = page.evaluate("[Object.keys(dashboard.strings.en), Object.keys(dashboard.strings.ko)]")
    assert sorted(en) == sorted(ko) and "silences.create" in en
