"""The log file is greppable by operation and level, as the seed shows."""

from __future__ import annotations

from pathlib import Path

import httpx


def test_log_lines_name_operation_and_plugin(api: httpx.Client, service) -> None:
    r = api.post("/collect-metrics/shop", json=[{"timestamp": "2026-11-01T00:00:00Z", "error_rate": 9}])
    assert r.status_code == 422
    log = Path(service.log_path).read_text()
    assert "WARNING op=collect_metrics plugin=shop rejected batch: samples[0].error_rate" in log
    assert "INFO op=start service started" in log
