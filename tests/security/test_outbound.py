"""The outbound guard (SSRF): sources may not reach loopback, private, link-local (cloud
metadata) or other non-public addresses unless allow-listed, redirects are not followed, and a
refused or failed source answers the same whatever was (or was not) listening there."""

from __future__ import annotations

import httpx
import pytest

from plugin_ai_analytics.security.outbound import Allowlist, OutboundRefused, check_url, guarded_request

from ..conftest import TEST_ADMIN_TOKEN, free_port, make_settings


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9090/metrics",
        "http://localhost/metrics",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]:8000/",
        "http://10.0.0.5/metrics",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://0.0.0.0:8000/",
        "file:///etc/passwd",
    ],
)
def test_non_public_destinations_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused):
        check_url(url, Allowlist())


def test_an_allow_list_opens_exactly_what_it_names() -> None:
    allow = Allowlist.parse("10.0.0.0/8, prometheus.internal, *.corp.example")
    assert check_url("http://10.1.2.3:9090", allow)[1] is not None
    assert check_url("http://prometheus.internal:9090", allow)[1] is None  # by name: not resolved here
    assert check_url("http://a.corp.example", allow)[1] is None
    with pytest.raises(OutboundRefused):
        check_url("http://192.168.0.1", allow)


def test_redirects_are_not_followed_to_where_the_guard_did_not_look(text_exporter_redirect) -> None:
    with httpx.Client() as client:
        r = guarded_request(client, "GET", text_exporter_redirect, Allowlist.parse("127.0.0.1"))
    assert r.status_code == 302  # the 302 to the metadata address is returned, not followed


@pytest.fixture
def text_exporter_redirect():
    import http.server
    import threading

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def test_a_registered_source_pointing_inside_is_refused_by_the_service(tmp_path) -> None:
    from plugin_ai_analytics.api.app import create_app  # noqa: F401 - the service as served
    from plugin_ai_analytics.service import AnalyticsService

    from ..conftest import LiveServer

    # The shipped default: no outbound allow-list.
    service = AnalyticsService(make_settings(tmp_path, outbound_allow="", scheduler_enabled=False))
    service.start(background=False)
    live = LiveServer(service).start()
    try:
        with httpx.Client(
            base_url=live.url + "/api/plugin-ai-analytics", headers={"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
        ) as api:
            answers = []
            for plugin_id, url in (
                ("open-port", f"{live.url}/plugin-ai-analytics"),  # this very service: a page that answers
                ("closed-port", f"http://127.0.0.1:{free_port()}/"),
                ("metadata", "http://169.254.169.254/latest/meta-data/"),
            ):
                api.post(
                    "/plugins",
                    json={
                        "plugin_id": plugin_id,
                        "interval_seconds": 3600,
                        "source": {"type": "prometheus", "url": url},
                    },
                )
                r = api.post(f"/collect-metrics/{plugin_id}")
                answers.append((r.status_code, r.json()["error"], r.json()["message"].split(" refused")[1]))
        assert len(set(answers)) == 1 and answers[0][:2] == (502, "outbound_refused")
    finally:
        live.stop()
        service.close()
