"""Routing, grouping, muting and back-off as pure functions: which policy takes an alert, when a
group speaks and what it says, what silences, maintenance windows and inhibition hold back, and
how long a failed delivery waits."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin_ai_analytics.alerting import (
    Alert,
    MaintenanceWindow,
    PolicySpec,
    alert_labels,
    checked,
    decide_flush,
    inhibitions,
    load_alerting_file,
    muting,
    parse_duration,
    retry_delay,
    route,
    window_active,
)
from plugin_ai_analytics.alerting.config import AlertingConfig
from plugin_ai_analytics.errors import ValidationError

NOW = int(datetime(2026, 12, 5, 3, 0, tzinfo=UTC).timestamp() * 1000)  # a Saturday, 03:00 UTC


def alert(plugin: str, severity: str = "High", *, state: str = "firing", rule: str = "anomaly", fp: str = "") -> Alert:
    return Alert(
        fingerprint=fp or f"{plugin}-{severity}-{rule}",
        rule=rule,
        plugin_id=plugin,
        metric="memory_mb",
        severity=severity,
        state=state,
        summary="s",
        evidence={},
        actions=(),
        labels=alert_labels(
            rule, plugin, "memory_mb", severity, {"team": "payments" if plugin.startswith("pay") else "web"}
        ),
        starts_at=NOW - 60_000,
        ends_at=None if state == "firing" else NOW,
        updated_at=NOW,
    )


def policy(**fields) -> PolicySpec:
    return PolicySpec.model_validate({"name": "p", "contact_points": ["hook"], **fields})


def test_the_first_matching_policy_wins_unless_it_continues() -> None:
    policies = [
        policy(name="payments", match={"plugins": ["pay-*"], "severities": ["High"]}, contact_points=["pager"]),
        policy(name="by-team", match={"labels": {"team": "web*"}}, contact_points=["chat"], **{"continue": True}),
        policy(name="all", contact_points=["archive"]),
    ]
    assert [t.policy for t in route(alert("pay-1").labels, policies)] == ["payments"]
    assert [t.policy for t in route(alert("pay-1", "Low").labels, policies)] == ["all"]
    assert [t.contact_point for t in route(alert("web-1").labels, policies)] == ["chat", "archive"]
    assert route(alert("pay-1", "Low").labels, policies[:2]) == []


def test_a_policy_matches_metrics_rules_and_any_metric_of_an_anomaly() -> None:
    by_metric = policy(match={"metrics": ["error_rate"], "rules": ["anomaly"]})
    labels = {**alert("web-1").labels, "metrics": "memory_mb,error_rate"}
    assert route(labels, [by_metric])
    assert not route(alert("web-1").labels, [by_metric])
    assert not route({**labels, "rule": "data_stale"}, [by_metric])


def test_groups_follow_group_by_and_every_alert_is_its_own_group_with_dots() -> None:
    by_rule = policy(group_by=["rule"])
    a, b = route(alert("web-1").labels, [by_rule])[0], route(alert("web-2").labels, [by_rule])[0]
    assert a.group_id == b.group_id and a.group_labels == {"rule": "anomaly"}
    each = policy(group_by=["..."])
    assert (
        route(alert("web-1").labels, [each], "f1")[0].group_id != route(alert("web-1").labels, [each], "f2")[0].group_id
    )


def group_target(**timing):
    return route(alert("web-1").labels, [policy(group_interval="10s", repeat_interval="1h", **timing)])[0]


def test_a_group_speaks_on_change_then_not_before_its_repeat() -> None:
    target = group_target()
    a = alert("web-1")
    first = decide_flush(target=target, kind="webhook", members=[a], notified={}, last_flush_at=None, now=NOW)
    assert first.send and first.firing == [a] and first.notified == {a.fingerprint: "High"}
    assert first.next_flush_at == NOW + 10_000
    quiet = decide_flush(
        target=target, kind="webhook", members=[a], notified=first.notified, last_flush_at=NOW, now=NOW + 10_000
    )
    assert not quiet.send and quiet.next_flush_at == NOW + 20_000
    repeat = decide_flush(
        target=target, kind="webhook", members=[a], notified=first.notified, last_flush_at=NOW, now=NOW + 3_600_000
    )
    assert repeat.send
    to_alertmanager = decide_flush(
        target=target, kind="alertmanager", members=[a], notified=first.notified, last_flush_at=NOW, now=NOW + 60_000
    )
    assert to_alertmanager.send  # an Alertmanager hears firing alerts at least every minute


def test_a_resolved_alert_is_told_only_to_those_who_heard_it_fire() -> None:
    target = group_target()
    done = alert("web-1", state="resolved")
    told = decide_flush(
        target=target, kind="webhook", members=[done], notified={done.fingerprint: "High"}, last_flush_at=NOW, now=NOW
    )
    assert told.send and told.resolved == [done] and told.next_flush_at is None and told.notified == {}
    untold = decide_flush(target=target, kind="webhook", members=[done], notified={}, last_flush_at=None, now=NOW)
    assert not untold.send and untold.next_flush_at is None
    quiet = group_target(send_resolved=False)
    assert not decide_flush(
        target=quiet, kind="webhook", members=[done], notified={done.fingerprint: "High"}, last_flush_at=NOW, now=NOW
    ).send


def test_an_open_high_inhibits_the_lows_of_its_plugin_only() -> None:
    rules = AlertingConfig().inhibit_rules  # the default
    high, low, other_low, medium = (
        alert("web-1"),
        alert("web-1", "Low"),
        alert("web-2", "Low"),
        alert("web-1", "Medium"),
    )
    assert inhibitions([high, low, other_low, medium], rules) == {low.fingerprint: [high.fingerprint]}
    assert inhibitions([alert("web-1", state="resolved"), low], rules) == {}


def test_silences_and_maintenance_windows_mute_what_they_match_while_they_hold() -> None:
    silence = {
        "silence_id": "s1",
        "matchers": {"plugin_id": "web-*", "severity": "High"},
        "starts_at": NOW - 1,
        "ends_at": NOW + 1,
    }
    assert muting(alert("web-1").labels, [silence], [], NOW) == ["s1"]
    assert muting(alert("web-1", "Low").labels, [silence], [], NOW) == []
    assert muting(alert("web-1").labels, [silence], [], NOW + 1) == []
    saturday = MaintenanceWindow(
        name="deploys", matchers={"team": "payments"}, weekdays=["sat"], start="02:00", duration="2h"
    )
    assert muting(alert("pay-1").labels, [], [saturday], NOW) == ["window:deploys"]
    assert muting(alert("web-1").labels, [], [saturday], NOW) == []
    assert not window_active(saturday, NOW + 3_600_000)  # 04:00: over
    overnight = MaintenanceWindow(name="n", matchers={"a": "b"}, weekdays=["fri"], start="23:00", duration="6h")
    assert window_active(overnight, NOW)  # began Friday 23:00, runs into Saturday
    once = MaintenanceWindow(
        name="m", matchers={"a": "b"}, starts_at="2026-12-05T02:00:00Z", ends_at="2026-12-05T03:00:00Z"
    )
    assert not window_active(once, NOW) and window_active(once, NOW - 1)


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, 1.0, 300.0, rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        full = min(300.0, 2 ** (n - 1))
        assert full / 2 <= delay <= full
    assert len({round(retry_delay(3, 1.0, 300.0, rng), 6) for _ in range(20)}) > 1  # jittered


def test_durations_read_as_operators_write_them() -> None:
    assert [parse_duration(v) for v in ("250ms", "30s", "5m", "4h", "1d", 90, "1.5h")] == [
        0.25,
        30,
        300,
        14400,
        86400,
        90,
        5400,
    ]
    for bad in ("5 minutes", "-1s", True, "h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_a_bad_configuration_is_refused_naming_the_field() -> None:
    def problem(document: dict) -> ValidationError:
        with pytest.raises(ValidationError) as raised:
            checked(AlertingConfig, document)
        return raised.value

    hook = {"name": "hook", "kind": "webhook", "url": "https://hooks.example/x"}
    e = problem(
        {"contact_points": [hook], "policies": [{"name": "p", "contact_points": ["hook"], "group_wait": "5 minutes"}]}
    )
    assert e.field == "policies[0].group_wait" and "is not a duration" in e.message
    e = problem({"contact_points": [hook], "policies": [{"name": "p", "contact_points": ["pager"]}]})
    assert e.field == "policies[0].contact_points[0]" and "no contact point named 'pager' (known: hook)" in e.message
    e = problem({"contact_points": [{"name": "hook", "kind": "webhook"}]})
    assert e.field == "contact_points[0].url" and "required for a contact point of kind webhook" in e.message
    e = problem({"contact_points": [{**hook, "url": "ftp://x"}]})
    assert e.field == "contact_points[0].url"
    e = problem({"contact_points": [{"name": "m", "kind": "email", "smtp_host": "h", "from_address": "a@b"}]})
    assert e.field == "contact_points[0].to"
    e = problem({"contact_points": [hook, hook]})
    assert e.field == "contact_points[1].name" and "repeats contact_points[0]" in e.message
    e = problem({"policies": [], "surprise": 1})
    assert e.field == "surprise" and "unknown field" in e.message
    e = problem(
        {
            "contact_points": [hook],
            "policies": [{"name": "p", "contact_points": ["hook"], "match": {"rules": ["nope"]}}],
        }
    )
    assert e.field == "policies[0].match.rules" and "unknown rule 'nope'" in e.message


def test_the_yaml_file_reads_secrets_from_the_environment_and_names_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alerting.yaml"
    path.write_text(
        "contact_points:\n"
        "  - {name: hook, kind: webhook, url: 'https://hooks.example/x', secret: '${HOOK_SECRET}'}\n"
        "policies:\n  - {name: all, contact_points: [hook], group_interval: 2m}\n"
    )
    monkeypatch.setenv("HOOK_SECRET", "from-the-environment-0123456789")
    config = load_alerting_file(path)
    assert config.contact_points[0].secret == "from-the-environment-0123456789"
    assert config.policies[0].group_interval == 120
    monkeypatch.delenv("HOOK_SECRET")
    with pytest.raises(
        ValidationError, match=r"contact_points\[0\]\.secret: environment variable HOOK_SECRET is not set"
    ):
        load_alerting_file(path)
    path.write_text("policies:\n  - {name: all, contact_points: [hook]}\n")
    with pytest.raises(ValidationError) as raised:
        load_alerting_file(path)
    assert raised.value.message.startswith(f"{path}: policies[0].contact_points[0]: no contact point named 'hook'")
