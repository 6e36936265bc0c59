"""Backup → wipe → restore, on SQLite and PostgreSQL, while samples keep arriving during the
backup: the restored service answers metrics-history, predict, anomalies-history and
suggestions exactly as before for the data the backup covers. A truncated or corrupted backup,
or one of another database kind, is refused before anything is touched."""

from __future__ import annotations

import math
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from plugin_ai_analytics.ops.backup import BackupError, verify_backup
from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.times import now_ms

from ..conftest import make_settings

HOUR = 3600


def _history(hours: int = 96) -> list[dict]:
    end = now_ms() / 1000 - 60
    out = []
    for i in range(hours * 4):
        t = end - (hours * 4 - i) * 900
        daily = math.sin(2 * math.pi * (t % 86400) / 86400)
        out.append(
            {"timestamp": t, "cpu_percent": 40 + 15 * daily + (30 if i == hours * 3 else 0), "memory_mb": 500 + i * 0.5}
        )
    return out


def _answers(service: AnalyticsService) -> dict[str, str]:
    forecast = service.predict("steady").model_dump()
    forecast.pop("made_at")  # when it was computed; the numbers must be the same
    return {
        "metrics-history": service.metrics_history("steady", limit=10_000).model_dump_json(),
        "predict": repr(forecast),
        "anomalies-history": service.anomalies_history("steady").model_dump_json(),
        "suggestions": service.suggestions_history("steady").model_dump_json(),
    }


def _wipe(url: str, tmp_path: Path) -> None:
    if url.startswith("sqlite"):
        for path in tmp_path.glob("analytics.db*"):
            path.unlink()
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.mark.slow
def test_backup_wipe_restore_answers_as_before_while_pushes_continue(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url, scheduler_enabled=False)
    service = AnalyticsService(settings)
    service.start(background=False)
    service.ingest_samples("steady", _history())
    service.train_models_now("steady")
    service.detect_anomalies("steady")
    service.optimization_suggestions("steady")
    before = _answers(service)

    stop = threading.Event()
    pushed: list[float] = []

    def push() -> None:  # another plugin keeps sending while the backup runs
        while not stop.is_set():
            t = now_ms() / 1000 - 1
            service.ingest_samples("live", [{"timestamp": t, "cpu_percent": 1.0}])
            pushed.append(t)
            stop.wait(0.005)

    pusher = threading.Thread(target=push)
    pusher.start()
    try:
        stop.wait(0.2)
        folder = service.backup()
        stop.wait(0.2)
    finally:
        stop.set()
        pusher.join()
    assert len(pushed) > 10
    service.close()
    _wipe(database_url, tmp_path)

    restoring = AnalyticsService(settings)  # a fresh, empty database
    manifest = restoring.restore(folder)
    restoring.close()
    assert manifest["dialect"] in ("sqlite", "postgresql")

    restored = AnalyticsService(settings)
    restored.start(background=False)
    try:
        after = _answers(restored)
        for kind in before:
            assert after[kind] == before[kind], f"{kind} differs after the restore"
        live = restored.get_plugin("live").samples
        assert 0 < live <= len(pushed)  # a consistent cut through the pushes, not a torn one
        assert restored.audit.verify().ok
    finally:
        restored.close()


def test_a_truncated_corrupted_or_foreign_backup_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'analytics.db'}", scheduler_enabled=False)
    service = AnalyticsService(settings)
    try:
        service.ingest_samples("x", [{"timestamp": now_ms() / 1000 - 5, "cpu_percent": 2.0}])
        folder = service.backup()
        assert verify_backup(folder)["files"]
        dump = folder / "database.sqlite"

        truncated = tmp_path / "truncated"
        shutil.copytree(folder, truncated)
        data = (truncated / "database.sqlite").read_bytes()
        (truncated / "database.sqlite").write_bytes(data[: len(data) // 2])
        with pytest.raises(BackupError, match=r"has \d+ bytes, the manifest says \d+ \(truncated"):
            service.restore(truncated)

        corrupted = tmp_path / "corrupted"
        shutil.copytree(folder, corrupted)
        flipped = bytearray(dump.read_bytes())
        flipped[len(flipped) // 2] ^= 0xFF
        (corrupted / "database.sqlite").write_bytes(bytes(flipped))
        with pytest.raises(BackupError, match="does not match its SHA-256"):
            service.restore(corrupted)

        foreign = tmp_path / "foreign"
        shutil.copytree(folder, foreign)
        manifest = (foreign / "manifest.json").read_text().replace('"sqlite"', '"postgresql"')
        (foreign / "manifest.json").write_text(manifest)
        with pytest.raises(BackupError):
            service.restore(foreign)
        assert service.get_plugin("x").samples == 1  # nothing was touched
    finally:
        service.close()


def test_every_registry_change_writes_a_configuration_backup_with_secrets_still_encrypted(tmp_path: Path) -> None:
    service = AnalyticsService(make_settings(tmp_path, f"sqlite:///{tmp_path / 'analytics.db'}"))
    try:
        service.register_plugin({"plugin_id": "cfg", "description": "owner bob@example.com"})
        service.delete_plugin("cfg")
        copies = sorted((tmp_path / "data" / "backups" / "config").glob("*.json"))
        assert len(copies) == 2
        first = copies[0].read_text()
        assert '"cfg"' in first and "bob@example.com" not in first and "enc:v1:" in first
        assert '"cfg"' not in copies[1].read_text()
    finally:
        service.close()
