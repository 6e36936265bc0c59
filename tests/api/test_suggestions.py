"""optimization-suggestions and suggestions-history over real HTTP: findings from the plugin's own
data with traceable numbers, updated rather than repeated, and nothing for a healthy plugin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from ..advise.conftest import untraced
from ..conftest import NAB
from .test_forecasts import push


def leaking_plugin(days: float, mib_per_hour: float, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    n = int(days * 288)
    return [
        {
            "timestamp": (end - timedelta(minutes=5 * (n - 1 - i))).isoformat(),
            "memory_mb": float(400 + mib_per_hour * i / 12 + 15 * np.sin(2 * np.pi * i / 24) + rng.normal(0, 3)),
            "cpu_percent": float(20 + rng.normal(0, 2)),
            "request_count": int(300 + rng.normal(0, 10)),
            "response_time_ms": float(40 + rng.normal(0, 2)),
            "error_rate": float(abs(rng.normal(0.001, 0.0002))),
        }
        for i in range(n)
    ]


def test_a_leak_is_found_with_its_rate_and_time_to_limit(api: httpx.Client) -> None:
    api.post("/plugins", json={"plugin_id": "leaky", "memory_limit_mb": 2048}).raise_for_status()
    push(api, "leaky", leaking_plugin(7, 5.0))
    first = api.get("/optimization-suggestions/leaky").json()
    leak = next(s for s in first["suggestions"] if s["finding"] == "memory_leak")
    rate = leak["evidence"]["growth_rate_mib_per_h"]["value"]
    assert 4.5 <= rate <= 5.5
    # the series ends near 400 + 5 MiB/h x 168 h = 1240 MiB (+15 MiB swing): ~800 MiB to the limit
    assert leak["evidence"]["time_to_limit_h"]["value"] == pytest.approx((2048 - 1255) / 5.0, rel=0.1)
    assert leak["steps"] and leak["expected_effect"] and leak["priority"] in ("High", "Medium", "Low")
    assert untraced(leak) == []

    again = api.get("/optimization-suggestions/leaky").json()
    same = next(s for s in again["suggestions"] if s["finding"] == "memory_leak")
    assert same["suggestion_id"] == leak["suggestion_id"]  # updated, not repeated
    history = api.get("/suggestions-history/leaky").json()
    assert [s["finding"] for s in history["suggestions"]].count("memory_leak") == 1


def test_a_healthy_plugin_gets_no_suggestion(api: httpx.Client) -> None:
    push(api, "healthy", leaking_plugin(8, 0.0))
    body = api.get("/optimization-suggestions/healthy").json()
    assert body["suggestions"] == []
    assert api.get("/suggestions-history/healthy").json()["suggestions"] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_real_nab_series_give_summaries_and_traceable_suggestions(api: httpx.Client, service) -> None:
    from plugin_ai_analytics.collect.importer import read_history

    folder = NAB / "data" / "realAWSCloudwatch"
    paths = sorted(folder.glob("*cpu_utilization*.csv"))[:4] + sorted(folder.glob("elb_request_count*.csv"))
    if not paths:
        pytest.skip(f"NAB data not found under {folder}")
    for path in paths:
        metric = "request_count" if "request_count" in path.name else "cpu_percent"
        frame = read_history(path, "timestamp", {"value": metric}, shift_to_now=True)
        if metric == "request_count":
            frame[metric] = frame[metric].round()
        service.import_frame(path.stem, frame)
        summary = api.get(f"/analytics-summary/{path.stem}")
        assert summary.status_code == 200, summary.text
        assert summary.json()["trends"][metric]["mean_7d"] > 0
        body = api.get(f"/optimization-suggestions/{path.stem}")
        assert body.status_code == 200, body.text
        for suggestion in body.json()["suggestions"]:
            assert untraced(suggestion) == [], suggestion["title"]
