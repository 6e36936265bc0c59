"""Secrets and personal data: a source credential and an e-mail address given to the API are in
neither the raw database file, nor the log, nor a default export; an admin gets them back
decrypted (a revealed registration, a raw export), and key rotation keeps them readable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from plugin_ai_analytics.times import now_ms

from ..conftest import TEST_ADMIN_TOKEN
from .conftest import bearer

API = "/api/plugin-ai-analytics"
SECRET = "s3cr3t-bearer-Zq8vN1xWk"
EMAIL = "alice.owner@example.com"


def _raw(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("analytics.db*"))


def test_a_planted_secret_and_email_stay_out_of_the_database_log_and_export(secure, tmp_path) -> None:
    service, live = secure
    viewer, _ = service.tokens.create("look", "viewer")
    admin = bearer(TEST_ADMIN_TOKEN)
    spec = {
        "plugin_id": "planted",
        "description": f"owned by {EMAIL}, on-call user_id=u-4711",
        "interval_seconds": 3600,
        "source": {
            "type": "prometheus",
            "url": "https://metrics.example.com/metrics",
            "bearer_token": SECRET,
        },
    }
    with httpx.Client(base_url=live.url + API, timeout=30) as client:
        created = client.post("/plugins", json=spec, headers=admin)
        assert created.status_code == 201
        assert SECRET not in created.text and created.json()["source"]["bearer_token"] == "********"
        client.post(
            "/collect-metrics/planted",
            json={"samples": [{"timestamp": now_ms() / 1000 - 60, "cpu_percent": 3.0}]},
            headers=admin,
        )
        default_export = client.get("/export-data/planted", headers=bearer(viewer))
        assert default_export.status_code == 200
        assert EMAIL not in default_export.text and "[email]" in default_export.text
        assert "u-4711" not in default_export.text
        assert client.get("/export-data/planted", params={"raw": "true"}, headers=bearer(viewer)).status_code == 403
        assert client.get("/plugins/planted", params={"reveal": "true"}, headers=bearer(viewer)).status_code == 403
        listed = client.get("/plugins", headers=bearer(viewer)).text
        assert SECRET not in listed

        raw_export = client.get("/export-data/planted", params={"raw": "true"}, headers=admin)
        assert EMAIL in raw_export.text
        revealed = client.get("/plugins/planted", params={"reveal": "true"}, headers=admin).json()
        assert revealed["source"]["bearer_token"] == SECRET

    for needle in (SECRET, EMAIL):
        assert needle.encode() not in _raw(tmp_path), f"{needle} found in the raw database file"
        assert needle not in Path(service.log_path).read_text(), f"{needle} found in the log"
    actions = [e["action"] for e in service.audit.query(limit=100)]
    assert "reveal_source_credentials" in actions and "export_data" in actions


def test_credentials_in_a_source_url_are_moved_out_of_it_and_never_returned(secure, tmp_path) -> None:
    service, live = secure
    with httpx.Client(base_url=live.url + API, headers=bearer(TEST_ADMIN_TOKEN)) as client:
        r = client.post(
            "/plugins",
            json={
                "plugin_id": "in-url",
                "interval_seconds": 3600,
                "source": {
                    "type": "promql",
                    "url": "https://bob:hunter2pass@prom.example.com",
                    "queries": {"cpu_percent": "up"},
                },
            },
        )
    assert r.status_code == 201, r.text
    assert "hunter2pass" not in r.text and r.json()["source"]["url"] == "https://prom.example.com"
    assert r.json()["source"]["basic_auth"]["password"] == "********"
    assert b"hunter2pass" not in _raw(tmp_path)


def test_keys_rotate_re_encrypts_every_secret_and_the_old_key_is_gone(secure, tmp_path) -> None:
    service, _ = secure
    service.register_plugin(
        {
            "plugin_id": "rotated",
            "description": EMAIL,
            "source": {"type": "prometheus", "url": "https://x.example.com", "bearer_token": SECRET},
        }
    )
    key_file = tmp_path / "data" / "secret.key"
    old_key = key_file.read_text().strip()
    with service.store.engine.connect() as conn:
        before = conn.exec_driver_sql("SELECT description FROM plugins").scalar()
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": str(tmp_path / "data"),
        "AI_ANALYTICS_LOG_DIR": str(tmp_path / "logs"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'analytics.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "plugin_ai_analytics", "keys", "rotate"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    new_key = key_file.read_text().strip()
    assert new_key != old_key and "\n" not in new_key
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    with service.store.engine.connect() as conn:
        after = conn.exec_driver_sql("SELECT description FROM plugins").scalar()
    assert after != before and after.startswith("enc:v1:")

    from plugin_ai_analytics.security.crypto import SecretBox

    assert SecretBox([new_key]).decrypt(after) == EMAIL


def test_personal_data_in_a_refused_push_is_masked_in_the_log_and_the_database(secure, tmp_path) -> None:
    service, live = secure
    with httpx.Client(base_url=live.url + API, headers=bearer(TEST_ADMIN_TOKEN)) as client:
        r = client.post(
            "/collect-metrics/leaky",
            json={"samples": [{"timestamp": now_ms() / 1000, "carol@example.org": 1, "cpu_percent": "10.1.2.3"}]},
        )
    assert r.status_code == 422
    from plugin_ai_analytics.logs import log_event

    log_event(40, "test", "a message about carol@example.org from 10.1.2.3")
    log = Path(service.log_path).read_text()
    assert "carol@example.org" not in log and "10.1.2.3" not in log and "[email]" in log
    assert b"carol@example.org" not in _raw(tmp_path)
