"""The route × role table: for every route of the service, the permission it needs, how a token
scoped to some plugins is treated, and whether a call is written to the audit log. It is the one
place access is decided (``api/auth.py`` applies it to every request), rendered into
docs/security.md, and walked for every identity by tests/security/test_route_matrix.py.

Scope: ``plugin`` routes name a plugin in the path, checked against the token's patterns;
``filtered`` routes answer a scoped token with its own plugins only; ``global`` routes refuse a
scoped token. A route missing from the table needs ``admin`` (fail closed) and fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass

from .roles import ROLES, Identity, Permission

__all__ = ["ROUTES", "Rule", "rule_for", "allowed", "render_matrix", "API"]

API = "/api/plugin-ai-analytics"
P = Permission


@dataclass(frozen=True, slots=True)
class Rule:
    permission: Permission
    scope: str = "global"  # plugin / filtered / global
    audit: str | None = None  # change (state-changing call) / analysis (an analysis run) / None


ROUTES: dict[tuple[str, str], Rule] = {
    # ingestion and the registry
    ("POST", API + "/collect-metrics/{plugin_id}"): Rule(P.INGEST, "plugin"),
    ("GET", API + "/plugins"): Rule(P.READ, "filtered"),
    ("POST", API + "/plugins"): Rule(P.OPERATE, "global", "change"),
    ("GET", API + "/plugins/{plugin_id}"): Rule(P.READ, "plugin"),
    ("PUT", API + "/plugins/{plugin_id}"): Rule(P.OPERATE, "plugin", "change"),
    ("PATCH", API + "/plugins/{plugin_id}"): Rule(P.OPERATE, "plugin", "change"),
    ("DELETE", API + "/plugins/{plugin_id}"): Rule(P.ADMIN, "plugin", "change"),
    # reading and analysing
    ("GET", API + "/metrics-history/{plugin_id}"): Rule(P.READ, "plugin"),
    ("POST", API + "/train-models/{plugin_id}"): Rule(P.OPERATE, "plugin", "analysis"),
    ("GET", API + "/predict/{plugin_id}"): Rule(P.READ, "plugin", "analysis"),
    ("GET", API + "/forecast-accuracy/{plugin_id}"): Rule(P.READ, "plugin"),
    ("GET", API + "/detect-anomalies/{plugin_id}"): Rule(P.READ, "plugin", "analysis"),
    ("GET", API + "/anomalies-history/{plugin_id}"): Rule(P.READ, "plugin"),
    ("POST", API + "/anomalies/{plugin_id}/{event_id}/feedback"): Rule(P.OPERATE, "plugin", "change"),
    ("GET", API + "/optimization-suggestions/{plugin_id}"): Rule(P.READ, "plugin", "analysis"),
    ("GET", API + "/suggestions-history/{plugin_id}"): Rule(P.READ, "plugin"),
    ("GET", API + "/analytics-summary/{plugin_id}"): Rule(P.READ, "plugin"),
    ("GET", API + "/export-data/{plugin_id}"): Rule(P.READ, "plugin", "analysis"),
    ("POST", API + "/batch-analysis"): Rule(P.OPERATE, "global", "analysis"),
    ("GET", API + "/dashboard/overview"): Rule(P.READ, "filtered"),
    ("GET", API + "/dashboard/plugins/{plugin_id}"): Rule(P.READ, "plugin"),
    # the system
    ("GET", API + "/system-status"): Rule(P.READ, "global"),
    ("GET", API + "/jobs"): Rule(P.READ, "global"),
    ("GET", API + "/jobs/{job_id}"): Rule(P.READ, "filtered"),
    ("GET", API + "/audit"): Rule(P.ADMIN, "global"),
    ("GET", "/metrics"): Rule(P.READ, "global"),
    # alerting: what fires and where it went (read), silences (operate), the configuration of
    # receivers and routes (read by operators, changed by admins; secrets are never answered)
    ("GET", API + "/alerts"): Rule(P.READ, "global"),
    ("GET", API + "/alerts/deliveries"): Rule(P.READ, "global"),
    ("POST", API + "/alerts/deliveries/{delivery_id}/retry"): Rule(P.OPERATE, "global", "change"),
    ("GET", API + "/alerts/silences"): Rule(P.READ, "global"),
    ("POST", API + "/alerts/silences"): Rule(P.OPERATE, "global", "change"),
    ("DELETE", API + "/alerts/silences/{silence_id}"): Rule(P.OPERATE, "global", "change"),
    ("GET", API + "/alerting/config"): Rule(P.OPERATE, "global"),
    ("PUT", API + "/alerting/config"): Rule(P.ADMIN, "global", "change"),
    ("GET", API + "/alerting/contact-points"): Rule(P.OPERATE, "global"),
    ("PUT", API + "/alerting/contact-points/{name}"): Rule(P.ADMIN, "global", "change"),
    ("DELETE", API + "/alerting/contact-points/{name}"): Rule(P.ADMIN, "global", "change"),
    ("GET", API + "/alerting/policies"): Rule(P.OPERATE, "global"),
    ("PUT", API + "/alerting/policies"): Rule(P.ADMIN, "global", "change"),
    # logging in and out (the dashboard); the login itself is rate-limited on failure
    ("POST", API + "/auth/login"): Rule(P.PUBLIC, "global", "change"),
    ("POST", API + "/auth/logout"): Rule(P.ANY, "filtered", "change"),
    ("GET", API + "/auth/me"): Rule(P.ANY, "filtered"),
    # what a browser needs before logging in: the page and its static files (/docs is a page too;
    # the schema it shows comes from /openapi.json, which needs a login like the API)
    ("GET", "/healthz"): Rule(P.PUBLIC),
    ("GET", "/readyz"): Rule(P.PUBLIC),
    ("GET", "/plugin-ai-analytics"): Rule(P.PUBLIC),
    ("GET", "/plugin-ai-analytics/"): Rule(P.PUBLIC),
    ("GET", "/plugin-ai-analytics/static/{name}"): Rule(P.PUBLIC),
    ("GET", "/docs"): Rule(P.PUBLIC),
    ("GET", "/openapi.json"): Rule(P.ANY, "filtered"),
}

_FAIL_CLOSED = Rule(P.ADMIN, "global", "change")


def rule_for(method: str, path: str) -> Rule:
    """The rule of a route (``path`` is its template); HEAD is GET; an unknown route needs admin."""
    method = "GET" if method == "HEAD" else method
    return ROUTES.get((method, path), _FAIL_CLOSED)


def allowed(identity: Identity, rule: Rule) -> bool:
    """Whether ``identity`` passes ``rule`` before any plugin is looked at."""
    if not identity.can(rule.permission):
        return False
    return not (identity.scoped and rule.scope == "global" and rule.permission is not P.PUBLIC)


def render_matrix() -> str:
    """The table as Markdown, for docs/security.md (a test keeps the two the same)."""
    head = ["method", "path", *ROLES, "scoped token", "audited"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (method, path), rule in sorted(ROUTES.items(), key=lambda item: (item[0][1], item[0][0])):
        cells = []
        for role in ROLES:
            cells.append("yes" if Identity("x", role).can(rule.permission) else "—")
        if rule.permission is P.PUBLIC:
            scoped = "yes"
        else:
            scoped = {"plugin": "its plugins", "filtered": "its plugins only", "global": "—"}[rule.scope]
        lines.append(f"| {method} | `{path}` | " + " | ".join([*cells, scoped, rule.audit or ""]) + " |")
    return "\n".join(lines) + "\n"
