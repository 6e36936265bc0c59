"""Retention deletes in bounded batches (each its own short transaction, with a pause after it),
deletes exactly what the unbatched rule would, and each run is audited and reported in
system-status (issue 14, point 7)."""

from __future__ import annotations

from pathlib import Path

from plugin_ai_analytics.ops.retention import apply_retention
from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.times import now_ms

from ..conftest import make_settings

DAY = 86_400_000


def test_batches_delete_everything_expired_and_nothing_else(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", retention_batch_rows=10)
    service = AnalyticsService(settings)
    try:
        now = now_ms()
        old = [{"timestamp": (now - 40 * DAY) / 1000 + i, "cpu_percent": 1.0} for i in range(105)]
        fresh = [{"timestamp": (now - DAY) / 1000 + i, "cpu_percent": 1.0} for i in range(7)]
        for plugin in ("a", "b"):
            service.ingest_samples(plugin, old + fresh)
        pauses: list[float] = []
        deleted = apply_retention(service.store.expiry, settings, now, sleep=pauses.append)
        assert deleted["metrics"] == 210
        assert [service.store.metrics.extent(p)["samples"] for p in ("a", "b")] == [7, 7]
        assert len(pauses) == 2 * 10  # ten full batches per plugin, each followed by a pause
        service.ingest_samples("a", old[:3])
        service.apply_retention()
        report = service.system_status().retention
        assert report is not None and report.deleted["metrics"] == 3
        assert service.audit.query(action="retention")[0]["actor"] == "system"
    finally:
        service.close()
