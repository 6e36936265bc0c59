"""The dashboard behind its login, in a real Chromium: it asks for a token, logs in with it
(an HttpOnly session cookie), works under its Content-Security-Policy without a single violation,
and logs out (issue 14)."""

from __future__ import annotations

from typing import Any

import httpx

from ..conftest import TEST_ADMIN_TOKEN, LiveServer

PAGE = "/plugin-ai-analytics"


def test_the_dashboard_logs_in_works_under_its_csp_and_logs_out(nab_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        response = page.goto(nab_server.url + PAGE)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0  # no inline script

        page.wait_for_selector("#login-token")  # not logged in: the login form, no data
        assert page.locator("#overview").count() == 0
        page.fill("#login-token", "paa_000000000000_wrong")
        page.click("#login button[type=submit]")
        page.wait_for_selector("#login-error:not(:empty)")  # (wait_for_function would need eval: CSP)

        page.fill("#login-token", TEST_ADMIN_TOKEN)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#overview tbody tr td")
        # the plugin view too: charts, anomaly markers and bars are drawn under the same CSP
        page.goto(nab_server.url + PAGE + "#/plugin/nab-ec2-cpu-24ae8d")
        page.wait_for_selector(".anomaly-marker")
        left = page.eval_on_selector(".anomaly-marker", "el => el.style.left")
        assert left.endswith("px")  # placed through the CSSOM, not an inline style attribute
        page.goto(nab_server.url + PAGE)
        page.wait_for_selector("#overview tbody tr td")
        cookies = {c["name"]: c for c in context.cookies()}
        session = cookies["paa_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert page.evaluate("document.cookie").find("paa_session") == -1  # the page cannot read it
        assert page.is_visible("#logout")

        # A state-changing call from the page carries the CSRF header; without it the cookie is not enough.
        status = page.evaluate(
            """async () => (await fetch('/api/plugin-ai-analytics/train-models/nab-rds-cpu-cc0c53',
                 {method: 'POST'})).status"""
        )
        assert status == 403

        page.click("#logout")
        page.wait_for_selector("#login-token")
        assert "paa_session" not in {c["name"] for c in context.cookies()}
        after = page.evaluate("async () => (await fetch('/api/plugin-ai-analytics/dashboard/overview')).status")
        assert after == 401
    finally:
        context.close()
    violations = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    assert not violations, violations
    assert not errors, errors


def test_api_calls_without_a_token_are_refused_but_the_page_and_its_files_are_not(nab_server: LiveServer) -> None:
    with httpx.Client(base_url=nab_server.url, timeout=30) as client:
        assert client.get(PAGE).status_code == 200
        assert client.get(PAGE + "/static/api.js").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/plugin-ai-analytics/dashboard/overview").status_code == 401
        assert client.get("/metrics").status_code == 401
