"""``plugin-ai-analytics alerting load / show``, run as a real subprocess: a YAML file replaces the
configuration (secrets from the environment, never printed), a bad one is refused naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

from ..test_cli import run


def test_alerting_load_and_show(tmp_path: Path) -> None:
    path = tmp_path / "alerting.yaml"
    path.write_text(
        "contact_points:\n"
        "  - {name: hook, kind: webhook, url: 'https://hooks.example.com/a/b/token123', secret: '${HOOK_SECRET}'}\n"
        "policies:\n"
        "  - {name: all, contact_points: [hook], group_wait: 10s, match: {severities: [High]}}\n"
        "maintenance_windows:\n"
        "  - {name: weekend, matchers: {team: payments}, weekdays: [sat, sun], start: '01:00', duration: 3h}\n"
    )
    secret = "secret-from-the-environment-123"
    loaded = run(tmp_path, "alerting", "load", str(path), env={"HOOK_SECRET": secret})
    assert loaded.stdout.strip() == "loaded 1 contact points (hook), 1 policies, 1 maintenance windows"
    shown = run(tmp_path, "alerting", "show").stdout
    assert secret not in shown and "token123" not in shown
    config = json.loads(shown)
    assert config["contact_points"][0]["has_secret"] is True
    assert config["contact_points"][0]["url"] == "https://hooks.example.com/…"
    assert config["policies"][0]["group_wait"] == 10.0
    assert config["inhibit_rules"] == [
        {"source": {"severity": "High"}, "target": {"severity": "Low"}, "equal": ["plugin_id"]}
    ]

    path.write_text("policies:\n  - {name: all, contact_points: [pager], group_wait: soon}\n")
    refused = run(tmp_path, "alerting", "load", str(path), check=False)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"error: {path}: policies[0].group_wait: 'soon' is not a duration such as 30s, 5m, 4h or a number of seconds "
        "(got 'soon')",
    ]
