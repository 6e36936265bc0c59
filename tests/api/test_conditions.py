"""A state that is bad now shows as bad now (issue 10 #5, #6): a plugin pinned at its CPU
allocation for 38 hours is critical, says since when, and gets advice, although the anomaly
detector took the plateau for its new normal long ago; a plugin without a CPU limit is never
judged against the host's cores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from .test_forecasts import push

STEP = timedelta(minutes=5)


def pinned(days: float, pinned_hours: float, end: datetime) -> list[dict]:
    rng = np.random.default_rng(3)
    n, pinned_from = int(days * 288), int((days * 24 - pinned_hours) * 12)
    samples = []
    for i in range(n):
        cpu = 98.5 + rng.normal(0, 0.4) if i >= pinned_from else 30 + 10 * np.sin(2 * np.pi * i / 288)
        samples.append({"timestamp": (end - (n - 1 - i) * STEP).isoformat(), "cpu_percent": float(min(cpu, 100))})
    return samples


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cpu_pinned_for_38_hours_is_critical_since_then_and_advised(api: httpx.Client) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    api.post("/plugins", json={"plugin_id": "pinned", "cpu_limit_percent": 100, "interval_seconds": 300})
    push(api, "pinned", pinned(7, 38, end))
    row = next(p for p in api.get("/dashboard/overview").json()["plugins"] if p["plugin_id"] == "pinned")
    assert row["health"] == "critical" and "saturated" in row["reasons"]
    assert row["limits"]["cpu_percent"] == 90.0
    [condition] = row["conditions"]
    assert condition["metric"] == "cpu_percent" and condition["value"] > 97

    summary = api.get("/analytics-summary/pinned").json()
    [condition] = summary["conditions"]
    since = datetime.fromisoformat(condition["since"].replace("Z", "+00:00"))
    assert abs((end - since) - timedelta(hours=38)) <= timedelta(hours=1)

    advice = api.get("/optimization-suggestions/pinned").json()["suggestions"]
    assert any(s["finding"] == "cpu_saturation" for s in advice)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_a_cpu_limit_nothing_is_judged_against_the_hosts_cores(api: httpx.Client) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    push(api, "unknown-limit", pinned(2, 10, end))
    row = next(p for p in api.get("/dashboard/overview").json()["plugins"] if p["plugin_id"] == "unknown-limit")
    assert row["limits"]["cpu_percent"] is None  # limit unknown: said so, not made up from the host
    assert row["conditions"] == [] and "saturated" not in row["reasons"]
    assert all(r["metric"] != "cpu_percent" for r in row["forecast"]["risks"])
