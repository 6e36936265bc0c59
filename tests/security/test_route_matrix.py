"""Every route of the service, called by every kind of caller: no token, a made-up token, an
expired one, viewer, operator, admin, an ingest token and a token scoped to another plugin. The
expected answer of each pair comes from the route × role table (security/policy.py), and a few
pairs are pinned by hand below so the table itself cannot drift into being permissive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plugin_ai_analytics.security.policy import ROUTES, allowed, rule_for
from plugin_ai_analytics.security.roles import Identity, Permission
from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.times import now_ms

from ..conftest import LiveServer, make_settings

PLUGIN = "web-shop"
CALLERS = ("none", "bad", "expired", "viewer", "operator", "admin", "ingest", "scoped")
# A body that gets a call past authorisation without real work (a validation error at most).
BODIES = {
    "/collect-metrics/{plugin_id}": {"samples": []},
    "/plugins": {"plugin_id": "matrix-new"},
    "/batch-analysis": {"plugins": ["no-such-plugin"]},
    "/auth/login": {"token": "nope"},
}


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str], str]]:
    tmp = tmp_path_factory.mktemp("matrix")
    settings = make_settings(
        tmp, f"sqlite:///{tmp / 'analytics.db'}", scheduler_enabled=False, auth_failures_per_minute=100_000
    )
    service = AnalyticsService(settings)
    service.start(background=False)
    service.ingest_samples(PLUGIN, [{"timestamp": now_ms() / 1000 - 60, "cpu_percent": 5.0}])
    job_id = service.train_models(PLUGIN)
    tokens = {"bad": "paa_0123456789ab_not-a-real-secret"}
    for role in ("viewer", "operator", "admin", "ingest"):
        tokens[role], _ = service.tokens.create(f"matrix-{role}", role)
    tokens["expired"], _ = service.tokens.create("matrix-expired", "admin", expires_at=now_ms() - 1000)
    tokens["scoped"], _ = service.tokens.create("matrix-scoped", "admin", plugins=["other-*"])
    live = LiveServer(service).start()
    yield live, tokens, job_id
    live.stop()
    service.close()


def _identity(caller: str) -> Identity | None:
    if caller in ("none", "bad", "expired"):
        return None
    if caller == "scoped":
        return Identity("scoped", "admin", plugins=("other-*",))
    return Identity(caller, caller)


def _url(path: str, job_id: str) -> str:
    return (
        path.replace("{plugin_id}", PLUGIN)
        .replace("{event_id}", "no-such-event")
        .replace("{job_id}", job_id)
        .replace("{name}", "api.js")
    )


def _app_routes() -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, schema or not (included routers unfolded)."""
    from plugin_ai_analytics.api.app import create_app

    app = create_app(service=None)
    found = set()
    for route in app.routes:
        context = getattr(route, "include_context", None)
        inner = [(context.prefix, r) for r in context.included_router.routes] if context else [("", route)]
        for prefix, r in inner:
            for method in getattr(r, "methods", None) or ():
                if method != "HEAD":
                    found.add((method, prefix + getattr(r, "path_format", r.path)))
    return sorted(found)


def test_every_route_of_the_app_and_its_openapi_schema_is_in_the_table() -> None:
    import json

    from plugin_ai_analytics.api.openapi import openapi_json

    schema = json.loads(openapi_json())
    in_schema = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    missing = sorted((in_schema | set(_app_routes())) - set(ROUTES))
    assert not missing, f"routes without a rule in security/policy.py ROUTES: {missing}"
    # every operation of the schema declares how to authenticate, except the public ones
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if rule_for(method.upper(), path).permission is not Permission.PUBLIC:
                assert {"BearerToken", "SessionCookie"} <= {k for s in op.get("security", []) for k in s}, path


@pytest.mark.slow
def test_every_route_answers_every_caller_as_the_table_says(
    matrix_server: tuple[LiveServer, dict[str, str], str],
) -> None:
    live, tokens, job_id = matrix_server
    wrong = []
    # the admin's DELETE goes last: it removes the plugin the other calls are about
    routes = sorted(ROUTES.items(), key=lambda item: item[0][0] == "DELETE")
    with httpx.Client(base_url=live.url, timeout=60) as client:
        for (method, path), rule in routes:
            relative = path.removeprefix("/api/plugin-ai-analytics")
            body = BODIES.get(relative)
            for caller in CALLERS:
                headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller != "none" else {}
                r = client.request(method, _url(path, job_id), headers=headers, json=body)
                identity = _identity(caller)
                if relative == "/auth/login":  # open to all; a wrong token in its body is its own 401
                    if r.status_code != 401:
                        wrong.append(f"{caller} {method} {path}: {r.status_code}, expected the login's own 401")
                    continue
                if identity is None:
                    expect_denied = rule.permission is not Permission.PUBLIC
                    denied_with = {401}
                else:
                    expect_denied = not allowed(identity, rule) or (
                        rule.scope == "plugin" and not identity.sees(PLUGIN)
                    )
                    expect_denied = expect_denied or (path.endswith("{job_id}") and identity.scoped)
                    denied_with = {403}
                if expect_denied and r.status_code not in denied_with:
                    wrong.append(f"{caller} {method} {path}: {r.status_code}, expected {sorted(denied_with)}")
                if not expect_denied and r.status_code in (401, 403):
                    wrong.append(f"{caller} {method} {path}: {r.status_code} {r.text[:120]}, expected access")
    assert not wrong, "\n".join(wrong)


def test_the_table_itself_keeps_the_lines_that_matter() -> None:
    """Pinned by hand: a leaked ingest or viewer token cannot do these, whatever the table says."""
    ingest, viewer, operator = Identity("i", "ingest"), Identity("v", "viewer"), Identity("o", "operator")
    api = "/api/plugin-ai-analytics"
    for method, path in ROUTES:
        rule = ROUTES[(method, path)]
        if path.startswith(api) and (method, path) != ("POST", api + "/collect-metrics/{plugin_id}"):
            if rule.permission not in (Permission.PUBLIC, Permission.ANY):
                assert not allowed(ingest, rule), f"an ingest token can {method} {path}"
        if method in ("POST", "PUT", "PATCH", "DELETE") and rule.permission not in (Permission.PUBLIC, Permission.ANY):
            assert not allowed(viewer, rule), f"a viewer can {method} {path}"
    for admin_only in (("DELETE", api + "/plugins/{plugin_id}"), ("GET", api + "/audit")):
        assert not allowed(operator, ROUTES[admin_only])


def test_the_table_in_docs_security_md_is_the_one_in_code() -> None:
    from plugin_ai_analytics.security.policy import render_matrix

    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    assert render_matrix() in doc, "docs/security.md: paste the output of render_matrix() (python -m ... see the doc)"
