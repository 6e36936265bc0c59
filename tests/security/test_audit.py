"""The audit log: state-changing calls and analysis runs are written with who, what, which
plugin and the outcome; admins read it filtered; and an entry edited in the database is named
by ``plugin-ai-analytics audit verify``."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from sqlalchemy import text

from ..conftest import TEST_ADMIN_TOKEN
from .conftest import bearer

API = "/api/plugin-ai-analytics"


def test_calls_are_audited_and_an_edited_entry_is_named_by_audit_verify(secure, tmp_path) -> None:
    service, live = secure
    operator, info = service.tokens.create("ops", "operator")
    viewer, _ = service.tokens.create("look", "viewer")
    with httpx.Client(base_url=live.url + API) as client:
        assert client.post("/plugins", json={"plugin_id": "audited"}, headers=bearer(operator)).status_code == 201
        assert client.post("/train-models/audited", headers=bearer(operator)).status_code == 202
        assert client.delete("/plugins/audited", headers=bearer(viewer)).status_code == 403
        assert client.delete("/plugins/audited", headers=bearer(TEST_ADMIN_TOKEN)).status_code == 204
        assert client.get("/audit", headers=bearer(operator)).status_code == 403
        page = client.get("/audit", headers=bearer(TEST_ADMIN_TOKEN)).json()
        only = client.get("/audit", params={"action": "delete_plugin"}, headers=bearer(TEST_ADMIN_TOKEN)).json()
    assert [e["outcome"] for e in only["entries"]] == ["ok", "denied"]
    seen = [(e["actor"], e["action"], e["outcome"]) for e in reversed(page["entries"]) if e["action"] != "audit"]
    assert seen == [
        (f"token:{info['token_id']}:ops", "register_plugin", "ok"),
        (f"token:{info['token_id']}:ops", "train_models", "ok"),
        ("token:" + service.tokens.list()[1]["token_id"] + ":look", "delete_plugin", "denied"),
        ("admin-token", "delete_plugin", "ok"),
    ]
    assert service.audit.verify().ok

    entries = service.audit.query(limit=1000)
    victim = next(e for e in entries if e["action"] == "delete_plugin" and e["outcome"] == "denied")
    with service.store.engine.begin() as conn:  # someone covers their tracks
        conn.execute(text("UPDATE audit_log SET outcome = 'ok' WHERE id = :id"), {"id": victim["id"]})
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": str(tmp_path / "data"),
        "AI_ANALYTICS_LOG_DIR": str(tmp_path / "logs"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'analytics.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "plugin_ai_analytics", "audit", "verify"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert f"audit log broken at entry {victim['id']}: its content does not match its hash" in result.stderr


def test_a_deleted_entry_breaks_the_chain_at_the_one_after_it(secure) -> None:
    service, _ = secure
    for i in range(5):
        service.audit.record("local", f"step{i}")
    ids = [e["id"] for e in reversed(service.audit.query())]
    with service.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[2]})
    check = service.audit.verify()
    assert check.broken_at == ids[3] and "removed or inserted" in (check.reason or "")
