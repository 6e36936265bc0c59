"""The alerting API over real HTTP, on SQLite and PostgreSQL: contact points whose secrets are
write-only, policies and configuration refused with the field named, silences, and the alert list
saying what is notified, silenced or inhibited."""

from __future__ import annotations

import httpx

from plugin_ai_analytics.service import AnalyticsService

from ..alerting.conftest import open_event

HOOK_URL = "https://hooks.example.com/services/T0001/B0002/very-secret-token"
SECRET = "hmac-signing-key-0123456789abcdef"


def test_secrets_are_write_only_and_kept_when_left_out(api: httpx.Client, service: AnalyticsService) -> None:
    created = api.put("/alerting/contact-points/hook", json={"kind": "webhook", "url": HOOK_URL, "secret": SECRET})
    assert created.status_code == 201
    assert created.json()["url"] == "https://hooks.example.com/…" and created.json()["has_secret"] is True
    for path in ("/alerting/config", "/alerting/contact-points", "/alerting/contact-points"):
        text = api.get(path).text
        assert SECRET not in text and "very-secret-token" not in text and "/services/" not in text
    changed = api.put("/alerting/contact-points/hook", json={"kind": "webhook", "timeout_seconds": 3})
    assert changed.status_code == 200 and changed.json()["has_secret"] is True
    stored = service.alerting.setup().contact_points["hook"]
    assert (stored["url"], stored["secret"], stored["timeout_seconds"]) == (HOOK_URL, SECRET, 3.0)
    # a client that read the configuration can write it back as it got it: the secrets stay
    config = api.get("/alerting/config").json()
    config["contact_points"] = [
        {k: v for k, v in c.items() if k not in ("url", "has_secret", "has_password")} for c in config["contact_points"]
    ]
    assert api.put("/alerting/config", json=config).status_code == 200
    assert service.alerting.setup().contact_points["hook"]["secret"] == SECRET
    mail = api.put(
        "/alerting/contact-points/mail",
        json={
            "kind": "email",
            "smtp_host": "smtp.example",
            "from_address": "a@example.com",
            "to": ["b@example.com"],
            "username": "alerts",
            "password": "smtp-password-1",
        },
    ).json()
    assert mail["has_password"] is True and "smtp-password-1" not in api.get("/alerting/config").text


def test_bad_configuration_is_refused_naming_the_field(api: httpx.Client) -> None:
    r = api.put("/alerting/contact-points/hook", json={"kind": "webhook"})
    assert (
        r.status_code == 422 and r.json()["field"] == "url" and "required for a contact point of kind webhook" in r.text
    )
    r = api.put("/alerting/contact-points/hook", json={"kind": "pager", "url": HOOK_URL})
    assert r.status_code == 422 and r.json()["field"] == "kind"
    assert api.put("/alerting/contact-points/hook", json={"kind": "webhook", "url": HOOK_URL}).status_code == 201
    r = api.put("/alerting/policies", json={"policies": [{"name": "p", "contact_points": ["pager"]}]})
    assert r.status_code == 422 and r.json()["field"] == "policies[0].contact_points[0]"
    assert "no contact point named 'pager' (known: hook)" in r.json()["message"]
    bad = {"policies": [{"name": "p", "contact_points": ["hook"], "group_wait": "5 minutes"}]}
    r = api.put("/alerting/policies", json=bad)
    assert (
        r.status_code == 422
        and r.json()["field"] == "policies.0.group_wait"
        and "not a duration" in r.json()["message"]
    )
    r = api.put(
        "/alerting/config", json={"contact_points": [], "policies": [{"name": "p", "contact_points": ["hook"]}]}
    )
    assert r.status_code == 422 and r.json()["field"] == "policies[0].contact_points[0]"
    good = {"policies": [{"name": "p", "contact_points": ["hook"], "group_wait": "10s", "continue": True}]}
    ok = api.put("/alerting/policies", json=good)
    assert ok.status_code == 200
    assert ok.json()["policies"][0]["group_wait"] == 10.0 and ok.json()["policies"][0]["continue"] is True
    assert api.get("/alerting/policies").json() == ok.json()
    r = api.delete("/alerting/contact-points/hook")
    assert r.status_code == 409 and r.json()["policies"] == ["p"]
    assert api.put("/alerting/policies", json={"policies": []}).status_code == 200
    assert api.delete("/alerting/contact-points/hook").status_code == 204
    assert api.delete("/alerting/contact-points/hook").status_code == 404


def test_silences_are_created_listed_and_ended(api: httpx.Client) -> None:
    r = api.post("/alerts/silences", json={"matchers": {"plugin_id": "shop"}, "duration": "1h", "comment": "deploy"})
    assert r.status_code == 201
    silence = r.json()
    assert silence["state"] == "active" and silence["created_by"] == "api"
    assert [s["silence_id"] for s in api.get("/alerts/silences").json()["silences"]] == [silence["silence_id"]]
    ended = api.delete(f"/alerts/silences/{silence['silence_id']}").json()
    assert ended["state"] == "expired"
    assert api.get("/alerts/silences", params={"include_expired": False}).json()["silences"] == []
    r = api.post("/alerts/silences", json={"matchers": {"plugin_id": "shop"}})
    assert r.status_code == 422 and r.json()["field"] == "ends_at"
    r = api.post("/alerts/silences", json={"matchers": {}, "duration": "1h"})
    assert r.status_code == 422 and r.json()["field"] == "matchers"
    assert api.delete("/alerts/silences/nope").status_code == 404


def test_the_alert_list_says_what_is_notified_silenced_and_inhibited(
    api: httpx.Client, service: AnalyticsService
) -> None:
    api.put("/alerting/contact-points/hook", json={"kind": "webhook", "url": "http://127.0.0.1:9/never"})
    api.put("/alerting/policies", json={"policies": [{"name": "all", "contact_points": ["hook"], "group_wait": "1h"}]})
    open_event(service, "shop", event_id="big", severity="High")
    open_event(service, "shop", event_id="small", severity="Low", metrics=("memory_mb",))
    open_event(service, "cart", event_id="c1", severity="Medium")
    silence = api.post("/alerts/silences", json={"matchers": {"plugin_id": "cart"}, "duration": "1h"}).json()
    listed = api.get("/alerts").json()
    by_event = {a["labels"]["event_id"]: a for a in listed["alerts"]}
    assert by_event["big"]["status"] == "active" and by_event["big"]["contact_points"] == ["hook"]
    assert by_event["small"]["status"] == "inhibited"
    assert by_event["small"]["inhibited_by"] == [by_event["big"]["fingerprint"]]
    assert by_event["c1"]["status"] == "silenced" and by_event["c1"]["silenced_by"] == [silence["silence_id"]]
    assert listed["counts"] == {"active": 1, "inhibited": 1, "silenced": 1}
    assert [a["labels"]["event_id"] for a in api.get("/alerts", params={"plugin_id": "cart"}).json()["alerts"]] == [
        "c1"
    ]
    assert api.get("/alerts", params={"severity": "Urgent"}).status_code == 422


def test_plugins_carry_labels_for_routing(api: httpx.Client) -> None:
    r = api.put("/plugins/shop", json={"labels": {"team": "payments", "tier": "1"}})
    assert r.status_code in (200, 201) and r.json()["labels"] == {"team": "payments", "tier": "1"}
    r = api.patch("/plugins/shop", json={"labels": {"team": "web"}})
    assert r.json()["labels"] == {"team": "web"}
    assert api.put("/plugins/shop", json={"labels": {"bad-name": "x"}}).status_code == 422
