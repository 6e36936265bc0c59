"""The collectors' spool: samples read while the store could not take them wait on disk, bounded,
and are stored oldest first, once, when it can again. A real service on SQLite whose write lock
another connection holds stands for an unavailable database."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError

from plugin_ai_analytics.collect.registry import PluginSpec
from plugin_ai_analytics.collect.spool import Spool
from plugin_ai_analytics.service import AnalyticsService, is_unavailable

from ..conftest import make_settings


def test_the_spool_keeps_order_respects_its_bound_and_skips_a_torn_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.jsonl", max_bytes=200)
    assert not spool and spool.head(10) == ([], 0)
    assert spool.append([{"n": i, "pad": "x" * 20} for i in range(10)]) == 5  # 5 lines of ~34 bytes fit
    assert spool.dropped == 5 and spool.size <= 200
    with spool.path.open("a") as f:
        f.write('{"n": 99, "pa')  # a crash mid-append
    samples, lines = spool.head(3)
    assert [s["n"] for s in samples] == [0, 1, 2] and lines == 3
    spool.consume(3)
    samples, lines = spool.head(10)
    assert [s["n"] for s in samples] == [3, 4] and lines == 3  # the torn line is read, not kept
    spool.consume(lines)
    assert not spool and not spool.path.exists()


@pytest.mark.slow  # a whole service starts and stops (its detection worker's import)
def test_a_source_read_while_the_store_is_locked_is_spooled_then_stored_once(tmp_path: Path) -> None:
    db = tmp_path / "analytics.db"
    settings = make_settings(tmp_path, f"sqlite:///{db}", sqlite_busy_timeout=0.3, scheduler_enabled=False)
    service = AnalyticsService(settings)
    service.start(background=False)
    try:
        service.create_plugin(PluginSpec(plugin_id="me", source={"type": "process", "pid": os.getpid()}))
        service.sources.collect_once("me")  # the first reading primes the CPU counter
        spool_path = settings.data_dir / "spool" / "me.jsonl"
        writer = sqlite3.connect(db)
        writer.execute("BEGIN IMMEDIATE")  # another writer holds the database
        for _ in range(3):
            time.sleep(0.05)
            with pytest.raises(SQLAlchemyError) as held:
                service.sources.collect_once("me")
            assert is_unavailable(held.value)
        writer.rollback()
        writer.close()
        spooled = [json.loads(line)["timestamp"] for line in spool_path.read_text().splitlines()]
        assert len(spooled) == 3
        before = service.store.metrics.extent("me")["samples"]
        result = service.sources.collect_once("me")  # the store is back: the spool first, then this one
        assert result.received == 4 and result.stored == 4 and not spool_path.exists()
        assert service.store.metrics.extent("me")["samples"] == before + 4
    finally:
        service.close()
