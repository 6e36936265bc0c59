"""The plugin registry over HTTP: POST creates, PUT replaces (the path names the plugin), PATCH
changes only what it is given, and every field a client sends is the field that is stored."""

from __future__ import annotations

import httpx


def test_post_creates_and_refuses_an_id_already_known(api: httpx.Client) -> None:
    r = api.post("/plugins", json={"plugin_id": "shop", "cpu_limit_percent": 150, "memory_limit_mb": 512})
    assert r.status_code == 201
    assert r.json()["cpu_limit_percent"] == 150 and r.json()["memory_limit_mb"] == 512
    again = api.post("/plugins", json={"plugin_id": "shop"})
    assert again.status_code == 409
    assert "PUT /plugins/shop" in again.json()["message"]
    assert api.get("/plugins/shop").json()["cpu_limit_percent"] == 150  # the refused POST changed nothing


def test_a_plugin_seen_pushing_is_known_too(api: httpx.Client) -> None:
    api.post("/collect-metrics/pusher", json={"samples": [{"timestamp": 1_790_000_000, "cpu_percent": 5.0}]})
    assert api.post("/plugins", json={"plugin_id": "pusher"}).status_code == 409
    r = api.patch("/plugins/pusher", json={"cpu_limit_percent": 100})
    assert r.status_code == 200 and r.json()["cpu_limit_percent"] == 100 and r.json()["samples"] == 1


def test_put_replaces_the_whole_registration_and_the_path_names_the_plugin(api: httpx.Client) -> None:
    created = api.put("/plugins/api", json={"name": "API", "interval_seconds": 300, "cpu_limit_percent": 100})
    assert created.status_code == 201
    assert created.json()["plugin_id"] == "api" and created.json()["cpu_limit_percent"] == 100
    replaced = api.put("/plugins/api", json={"plugin_id": "api", "memory_limit_mb": 2048})
    assert replaced.status_code == 200
    body = replaced.json()
    # a replacement: what the body leaves out takes its default, as documented
    assert body["memory_limit_mb"] == 2048 and body["cpu_limit_percent"] is None
    assert body["interval_seconds"] == 60 and body["name"] == "api"
    mismatch = api.put("/plugins/api", json={"plugin_id": "other"})
    assert mismatch.status_code == 422 and mismatch.json()["field"] == "plugin_id"


def test_patch_changes_only_the_fields_given(api: httpx.Client) -> None:
    api.post(
        "/plugins",
        json={"plugin_id": "worker", "name": "Worker", "description": "queue", "interval_seconds": 300},
    ).raise_for_status()
    r = api.patch("/plugins/worker", json={"cpu_limit_percent": 100})
    assert r.status_code == 200
    body = r.json()
    assert body["cpu_limit_percent"] == 100
    assert (body["name"], body["description"], body["interval_seconds"]) == ("Worker", "queue", 300)
    cleared = api.patch("/plugins/worker", json={"cpu_limit_percent": None, "keep_history": True}).json()
    assert cleared["cpu_limit_percent"] is None and cleared["keep_history"] is True and cleared["name"] == "Worker"
    assert api.patch("/plugins/nobody", json={"enabled": False}).status_code == 404
    bad = api.patch("/plugins/worker", json={"interval_seconds": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "interval_seconds"
    assert api.patch("/plugins/worker", json={"color": "red"}).status_code == 422
