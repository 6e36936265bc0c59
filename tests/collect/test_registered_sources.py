"""Plugins registered through the API with a source are sampled by the service's scheduler,
and ``collect-metrics`` with an empty body collects once, storing real readings."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from ..conftest import free_port


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.slow
def test_process_source_gains_a_sample_every_interval(api: httpx.Client, spawn_child) -> None:
    child = spawn_child("busy", "paa-registered-busy")
    r = api.post(
        "/plugins",
        json={"plugin_id": "busy-worker", "interval_seconds": 1, "source": {"type": "process", "pid": child.pid}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["source"]["pid"] == child.pid

    def samples():
        rows = api.get("/metrics-history/busy-worker").json()["samples"]
        return rows if len([s for s in rows if s["cpu_percent"] is not None]) >= 3 else None

    rows = wait_for(samples, 15, "three scheduled samples")
    rss = psutil.Process(child.pid).memory_info().rss / 2**20
    with_cpu = [s for s in rows if s["cpu_percent"] is not None]
    # A busy loop takes a core when it can; even on a crowded machine it gets a good share of one.
    assert all(s["cpu_percent"] > 20 for s in with_cpu), with_cpu
    assert all(abs(s["memory_mb"] - rss) / rss < 0.2 for s in rows), (rows, rss)
    gaps = [b - a for a, b in zip(_times(rows), _times(rows)[1:], strict=False)]
    assert all(0.5 <= g <= 2.5 for g in gaps), gaps  # one per ~1 s interval


def _times(rows: list[dict]) -> list[float]:
    from datetime import datetime

    return [datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp() for r in rows]


@pytest.fixture
def exporter():
    registry = CollectorRegistry()
    metrics = {
        "duration": Histogram(
            "http_request_duration_seconds",
            "latency",
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        ),
        "requests": Counter("http_requests_total", "requests", ["status"], registry=registry),
        "users": Gauge("active_users", "users", registry=registry),
    }
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"http://127.0.0.1:{port}/metrics", metrics
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_prometheus_endpoint_values_are_mapped_and_stored(api: httpx.Client, exporter) -> None:
    url, m = exporter
    r = api.post(
        "/plugins",
        json={"plugin_id": "scraped", "interval_seconds": 3600, "source": {"type": "prometheus", "url": url}},
    )
    assert r.status_code == 201, r.text
    m["users"].set(42)
    first = api.post("/collect-metrics/scraped")  # empty body: collect once from the source
    assert first.status_code == 200, first.text
    for i in range(20):  # 20 requests, 2 of them 500s, each 40 ms
        m["duration"].observe(0.040)
        m["requests"].labels(status="500" if i % 10 == 0 else "200").inc()
    second = api.post("/collect-metrics/scraped")
    assert second.status_code == 200 and second.json()["stored"] == 1
    latest = api.get("/metrics-history/scraped").json()["samples"][-1]
    assert latest["request_count"] == 20
    assert latest["error_rate"] == pytest.approx(0.1)
    assert latest["response_time_ms"] == pytest.approx(40.0)
    assert latest["active_users"] == 42


def test_invalid_source_is_refused_naming_the_field(api: httpx.Client) -> None:
    r = api.post("/plugins", json={"plugin_id": "bad", "source": {"type": "process", "pid": -4}})
    assert r.status_code == 422
    assert r.json()["field"].startswith("source.pid")
    r = api.post("/plugins", json={"plugin_id": "bad", "source": {"type": "carrier-pigeon"}})
    assert r.status_code == 422 and r.json()["field"] == "source.type"
    assert api.get("/plugins/bad").status_code == 404


def test_plugins_file_registers_sources(service, tmp_path: Path, spawn_child) -> None:
    child = spawn_child("idle", "paa-registry-file-idle")
    path = tmp_path / "plugins.yaml"
    path.write_text(
        "plugins:\n"
        f"  - plugin_id: idle-worker\n    interval_seconds: 30\n    source: {{type: process, pid: {child.pid}}}\n"
        "  - plugin_id: pushed-only\n"
    )
    assert service.load_plugins_file(path) == ["idle-worker", "pushed-only"]
    result = service.collect_once("idle-worker")
    assert result.stored == 1
    plugins = {p.plugin_id: p.model_dump() for p in service.list_plugins()}
    assert plugins["idle-worker"]["source"]["type"] == "process" and plugins["pushed-only"]["source"] is None


def test_a_failing_source_is_a_502_and_an_error_log_line(api: httpx.Client, service) -> None:
    port = free_port()  # nothing listens there
    api.post(
        "/plugins",
        json={
            "plugin_id": "gone",
            "interval_seconds": 3600,
            "source": {"type": "prometheus", "url": f"http://127.0.0.1:{port}/metrics"},
        },
    )
    r = api.post("/collect-metrics/gone")
    assert r.status_code == 502 and r.json()["error"] == "source_error"
    assert "Connection refused" not in r.text  # what the target answered stays in the log (issue 14)
    with pytest.raises(Exception, match="not a Prometheus exposition"):
        service.sources._collect_scheduled("gone")
    log = Path(service.log_path).read_text()
    assert "ERROR op=collect_metrics plugin=gone scheduled collection failed" in log
    assert "Connection refused" in log


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_registration_written_by_another_process_is_sampled_without_a_restart(service, tmp_path) -> None:
    """Issue 10 #12: `plugins load` wrote to the database but the running service scheduled the new
    plugins only after a restart."""
    import os
    import time

    from plugin_ai_analytics.service.facade import REGISTRY_FOLLOW_SECONDS
    from plugin_ai_analytics.store import Store

    other = Store(service.settings.effective_database_url, run_migrations=False)  # as the CLI opens it
    try:
        other.plugins.upsert(
            {"plugin_id": "loaded", "source": {"type": "process", "pid": os.getpid()}, "interval_seconds": 1}
        )
        deadline = time.monotonic() + REGISTRY_FOLLOW_SECONDS + 10
        while service.get_plugin("loaded").samples == 0 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert service.get_plugin("loaded").samples >= 1
        other.plugins.delete("loaded")
        deadline = time.monotonic() + REGISTRY_FOLLOW_SECONDS + 10
        while "collect:loaded" in service.scheduler.names() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert "collect:loaded" not in service.scheduler.names()
    finally:
        other.close()
