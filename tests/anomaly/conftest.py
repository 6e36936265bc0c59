"""Constructed plugin histories for the anomaly tests: a normal daily rhythm, then a known incident."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from plugin_ai_analytics.anomaly import PluginDetector, Verdict

REPO = Path(__file__).resolve().parents[2]
NAB = REPO.parent / "shared" / "data" / "nab" / "data"
START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)

Sample = dict[str, float | None]
Incident = Callable[[int, Sample], Sample]  # (minutes into the incident / 5, normal sample) -> sample


def normal_sample(i: int, rng: np.random.Generator) -> Sample:
    """A healthy plugin at 5-minute step ``i``: daily load cycle, latency and CPU follow load."""
    day = np.sin(2 * np.pi * (i % 288) / 288)
    requests = 200 + 80 * day + rng.normal(0, 8)
    return {
        "cpu_percent": 20 + 0.08 * requests + rng.normal(0, 1.0),
        "memory_mb": 512 + rng.normal(0, 3.0),
        "response_time_ms": 80 + 0.05 * requests + rng.normal(0, 2.0),
        "error_rate": max(0.0, 0.01 + rng.normal(0, 0.002)),
        "request_count": float(round(requests)),
        "active_users": float(round(requests / 5 + rng.normal(0, 2))),
    }


def stream(
    detector: PluginDetector,
    n_normal: int,
    incident: Incident | None = None,
    n_incident: int = 0,
    seed: int = 1,
    offset: int = 0,
) -> Iterator[Verdict]:
    """Feed ``n_normal`` healthy samples, then ``n_incident`` samples altered by ``incident``."""
    rng = np.random.default_rng(seed)
    for i in range(n_normal + n_incident):
        k = offset + i
        sample = normal_sample(k, rng)
        if incident is not None and i >= n_normal:
            sample = incident(i - n_normal, sample)
        yield detector.update(START + k * STEP, sample)


@pytest.fixture(scope="session")
def warmed_state() -> dict:
    """State of a detector that has learnt 700 healthy samples (shared so each test starts fast)."""
    det = PluginDetector()
    for _ in stream(det, 700):
        pass
    return det.to_state()


@pytest.fixture
def warmed(warmed_state: dict) -> PluginDetector:
    return PluginDetector.from_state(warmed_state)
