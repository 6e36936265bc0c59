"""A stored model whose checksum fails is refused (never loaded), logged as an ERROR, and the
plugin is retrained (issue 14, point 6)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.times import now_ms

from ..conftest import make_settings


@pytest.mark.slow
def test_a_tampered_model_is_refused_and_retrained(tmp_path: Path) -> None:
    service = AnalyticsService(make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", scheduler_enabled=False))
    service.start(background=False)
    try:
        end = now_ms() / 1000 - 60
        service.ingest_samples(
            "m",
            [
                {"timestamp": end - i * 900, "cpu_percent": 40 + 10 * math.sin(2 * math.pi * i / 96)}
                for i in range(4 * 24 * 4)
            ],
        )
        service.train_models_now("m")
        with service.store.engine.begin() as conn:  # someone edits the stored model
            conn.execute(text("UPDATE models SET state = replace(state, '1', '2') WHERE plugin_id = 'm'"))
        service.forecasts._cache.clear()
        service.forecasts._basis.clear()
        refused = service.predict("m")
        errors = [getattr(m, "error", "") for m in refused.metrics.values()]
        assert any("fails its checksum" in e for e in errors), errors
        assert "fails its checksum: refused" in Path(service.log_path).read_text()
        deadline = time.monotonic() + 120
        while service.trained_models("m")[0].version < 2:
            assert time.monotonic() < deadline, "the refused model was not retrained"
            time.sleep(0.2)
        assert not any(hasattr(m, "error") for m in service.predict("m").metrics.values())
    finally:
        service.close()
