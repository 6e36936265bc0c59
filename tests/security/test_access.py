"""Authentication as shipped: tokens shown once and kept as hashes, expiry and revocation,
failed attempts rate-limited, cookie logins needing the CSRF header, and HTTP hygiene (headers,
trusted hosts, JSON-only state changes, CORS off)."""

from __future__ import annotations

import httpx

from plugin_ai_analytics.times import now_ms

from ..conftest import TEST_ADMIN_TOKEN
from .conftest import bearer

API = "/api/plugin-ai-analytics"


def test_a_token_is_kept_only_as_a_hash_and_stops_working_when_revoked_or_expired(secure, tmp_path) -> None:
    service, live = secure
    token, info = service.tokens.create("ci", "viewer")
    secret = token.split("_", 2)[2]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("analytics.db*"))
    assert secret.encode() not in raw and token.encode() not in raw
    with httpx.Client(base_url=live.url + API) as client:
        assert client.get("/plugins", headers=bearer(token)).status_code == 200
        assert "secret_hash" not in str(service.tokens.list())
        service.tokens.revoke(info["token_id"])
        assert client.get("/plugins", headers=bearer(token)).status_code == 401
        expired, _ = service.tokens.create("old", "admin", expires_at=now_ms() - 1)
        assert client.get("/plugins", headers=bearer(expired)).status_code == 401
        assert client.get("/plugins", headers=bearer(token[:-1] + "x")).status_code == 401


def test_failed_authentication_is_rate_limited_per_client(secure) -> None:
    service, live = secure
    good, _ = service.tokens.create("ok", "viewer")
    with httpx.Client(base_url=live.url + API) as client:
        codes = [client.get("/plugins", headers=bearer(f"paa_000000000000_guess{i}")).status_code for i in range(25)]
        assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
        # the limit counts failures: a valid token from the same address is refused meanwhile too
        assert client.get("/plugins", headers=bearer(good)).status_code == 429


def test_the_dashboard_cookie_needs_the_csrf_header_for_changes(secure) -> None:
    service, live = secure
    with httpx.Client(base_url=live.url + API) as client:
        r = client.post("/auth/login", json={"token": TEST_ADMIN_TOKEN})
        assert r.status_code == 200 and r.json()["role"] == "admin"
        set_cookie = r.headers.get_list("set-cookie")
        session = next(c for c in set_cookie if c.startswith("paa_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict")
        assert client.get("/plugins").status_code == 200  # the cookie alone reads
        assert client.post("/train-models/anything").status_code == 403  # but does not change state
        csrf = client.cookies["paa_csrf"]
        assert client.post("/train-models/anything", headers={"X-CSRF-Token": csrf}).status_code != 403
        assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        client.cookies.clear()
        assert client.get("/plugins").status_code == 401


def test_cross_site_text_plain_and_form_posts_are_refused_before_any_route(secure) -> None:
    service, live = secure
    with httpx.Client(base_url=live.url + API, headers=bearer(TEST_ADMIN_TOKEN)) as client:
        text = client.post(
            "/collect-metrics/csrf", content=b'{"samples":[{"cpu_percent":1}]}', headers={"content-type": "text/plain"}
        )
        form = client.post("/train-models/csrf", data={"x": "1"})
        assert (text.status_code, form.status_code) == (415, 415)
        assert service.store.plugins.get("csrf") is None  # nothing stored, nothing started


def test_security_headers_trusted_hosts_and_no_cors(secure) -> None:
    service, live = secure
    with httpx.Client(base_url=live.url) as client:
        page = client.get("/plugin-ai-analytics")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        api = client.get(API + "/plugins", headers=bearer(TEST_ADMIN_TOKEN))
        assert api.headers["cache-control"] == "no-store"
        # DNS rebinding: a page of evil.example resolving to this machine sends its own Host
        assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
        preflight = client.options(
            API + "/plugins",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in preflight.headers
