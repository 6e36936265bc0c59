"""Forecast bands stay inside physics (issue 10, point 5): every point and bound of a forecast is
clipped to the metric's range and to the plugin's own limits, and ``clipped`` says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from plugin_ai_analytics.config import Settings
from plugin_ai_analytics.service import AnalyticsService

STEP = timedelta(minutes=5)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[AnalyticsService]:
    svc = AnalyticsService(Settings(data_dir=tmp_path / "data", log_dir=tmp_path / "logs", cpu_cores=2))
    yield svc
    svc.close()


def near_the_limits(days: float = 3, seed: int = 5) -> list[dict]:
    """CPU pinned near one core (85-100 % with bursts to the cap), memory near 512 MiB."""
    rng = np.random.default_rng(seed)
    n = int(days * 288)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    cpu = np.clip(93 + 6 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 4, n), 0, 100)
    memory = np.clip(500 + rng.normal(0, 8, n), 0, 512)
    return [
        {
            "timestamp": (end - (n - 1 - i) * STEP).isoformat(),
            "cpu_percent": float(cpu[i]),
            "memory_mb": float(memory[i]),
        }
        for i in range(n)
    ]


def test_a_forecast_never_crosses_the_plugins_cpu_and_memory_limits(service: AnalyticsService) -> None:
    service.register_plugin({"plugin_id": "pinned", "cpu_limit_percent": 100, "memory_limit_mb": 512})
    service.ingest_samples("pinned", near_the_limits())
    service.train_models_now("pinned")
    forecast = service.predict("pinned").metrics
    for metric, limit in (("cpu_percent", 100.0), ("memory_mb", 512.0)):
        points = forecast[metric].forecast
        uppers = [p["upper_95"] for p in points]
        assert max(uppers) <= limit, f"{metric}: upper bound {max(uppers):.1f} above the plugin's limit {limit}"
        # Bands that reached the limit were moved there and say so.
        assert any(p["clipped"] for p in points if p["upper_95"] == limit)
        assert all(
            0.0 <= p["lower_95"] <= p["lower_80"] <= p["value"] <= p["upper_80"] <= p["upper_95"] for p in points
        )


def test_without_a_limit_cpu_is_bounded_by_the_hosts_cores(service: AnalyticsService) -> None:
    samples = near_the_limits()
    for s in samples:
        s["cpu_percent"] = s["cpu_percent"] * 1.95  # near the 2 cores of the host
    service.ingest_samples("unlimited", samples)
    service.train_models_now("unlimited")
    points = service.predict("unlimited").metrics["cpu_percent"].forecast
    assert max(p["upper_95"] for p in points) <= 200.0
    assert any(p["clipped"] for p in points)
