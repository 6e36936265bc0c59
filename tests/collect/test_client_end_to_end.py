"""The instrumentation client against the real service: measured values land in the store, and
an outage of the server neither breaks nor blocks the host."""

from __future__ import annotations

import time

import pytest

from plugin_ai_analytics.collect import PluginMonitor

from ..conftest import TEST_ADMIN_TOKEN, LiveServer


def host_call_factory(monitor: PluginMonitor, seen_ms: list[float] | None = None):
    calls = {"n": 0}

    @monitor.tracked
    def handle_request() -> str:
        calls["n"] += 1
        started = time.perf_counter()
        time.sleep(0.020)
        if seen_ms is not None:  # what the call really took: a loaded machine sleeps longer than asked
            seen_ms.append((time.perf_counter() - started) * 1000)
        if calls["n"] % 10 == 0:
            raise RuntimeError("plugin failed")
        return "ok"

    def call() -> str | None:
        try:
            return handle_request()
        except RuntimeError:
            return None

    return call


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_measured_latency_and_errors_reach_the_store(service, server) -> None:
    monitor = PluginMonitor("instrumented", endpoint=server.url, flush_interval=0.5, token=TEST_ADMIN_TOKEN)
    seen_ms: list[float] = []
    call = host_call_factory(monitor, seen_ms)
    results = [call() for _ in range(50)]
    assert results.count(None) == 5
    assert monitor.flush(timeout=10)
    monitor.close()
    rows = service.metrics_history("instrumented", limit=100).samples
    rows = [r for r in rows if r["request_count"]]  # idle intervals carry only CPU and memory
    requests = sum(r["request_count"] for r in rows)
    assert requests == 50
    errors = sum(r["error_rate"] * r["request_count"] for r in rows)
    assert errors / requests == pytest.approx(0.1)
    mean = sum(r["response_time_ms"] * r["request_count"] for r in rows) / requests
    # The monitor's own timing wraps the body: at least what the body measured, plus little.
    body = sum(seen_ms) / len(seen_ms)
    assert body - 0.1 <= mean <= body + 2.0, (mean, body)
    assert all(r["memory_mb"] > 10 for r in rows)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.slow
def test_server_outage_buffers_and_delivers_later(service) -> None:
    live = LiveServer(service).start()
    port = live.port
    monitor = PluginMonitor("outage", endpoint=live.url, flush_interval=0.2, max_backoff=0.5, token=TEST_ADMIN_TOKEN)
    call = host_call_factory(monitor)
    call()
    assert monitor.flush(timeout=10)
    live.stop()

    durations = []
    for _ in range(30):
        t0 = time.perf_counter()
        call()  # must neither raise nor wait for the dead server
        durations.append(time.perf_counter() - t0)
    assert max(durations) < 0.1, max(durations)
    time.sleep(1.0)  # let a few flushes fail
    assert monitor.stats()["buffered"] > 0
    before = service.store.metrics.extent("outage")["samples"]

    live = LiveServer(service, port=port).start()
    try:
        assert monitor.flush(timeout=15)
        monitor.close()
        rows = service.metrics_history("outage", limit=1000).samples
        assert len(rows) > before
        assert sum(r["request_count"] for r in rows) == 31
    finally:
        live.stop()
