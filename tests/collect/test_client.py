"""The instrumentation client measures real calls, and delivers samples without ever hurting the host."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import threading
import time
from datetime import datetime

import psutil
import pytest

from plugin_ai_analytics.collect import PluginMonitor
from plugin_ai_analytics.errors import ValidationError

from .conftest import free_port, wait_until


class PluginFailure(Exception):
    pass


class RecordingSink:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[dict]]] = []

    def __call__(self, plugin_id: str, samples: list[dict]) -> None:
        self.batches.append((plugin_id, samples))

    @property
    def samples(self) -> list[dict]:
        return [s for _, batch in self.batches for s in batch]


def _assert_twenty_ms_one_in_ten(sample: dict, calls: int) -> None:
    assert sample["request_count"] == calls
    assert sample["error_rate"] == pytest.approx(0.1)
    assert sample["response_time_ms"] == pytest.approx(20, abs=5)
    assert sample["response_time_p95_ms"] >= sample["response_time_ms"] * 0.9
    datetime.fromisoformat(sample["timestamp"])  # ISO-8601
    assert sample["timestamp"].endswith("+00:00")


def test_decorator_measures_response_time_and_errors_and_reraises_unchanged():
    sink = RecordingSink()
    with PluginMonitor("sleepy-plugin", sink=sink, flush_interval=600) as monitor:
        raised = PluginFailure("boom")

        @monitor.tracked
        def plugin_call(i: int) -> int:
            time.sleep(0.02)
            if i % 10 == 0:
                raise raised
            return i

        for i in range(30):
            try:
                assert plugin_call(i) == i
            except PluginFailure as exc:
                assert exc is raised and i % 10 == 0
        assert plugin_call.__name__ == "plugin_call"
        assert monitor.flush() is True

    assert sink.batches[0][0] == "sleepy-plugin"
    _assert_twenty_ms_one_in_ten(sink.samples[0], 30)
    assert sink.samples[0]["memory_mb"] == pytest.approx(psutil.Process().memory_info().rss / 2**20, rel=0.2)
    assert sink.samples[0]["cpu_percent"] >= 0


def test_context_manager_and_async_decorator_measure_the_same_way():
    sink = RecordingSink()
    monitor = PluginMonitor("ctx-plugin", sink=sink, flush_interval=600)
    for i in range(20):
        with pytest.raises(PluginFailure) if i % 10 == 3 else contextlib.nullcontext():
            with monitor.track():
                time.sleep(0.02)
                if i % 10 == 3:
                    raise PluginFailure
    monitor.flush()
    _assert_twenty_ms_one_in_ten(sink.samples[-1], 20)

    @monitor.tracked
    async def async_call(i: int) -> int:
        await asyncio.sleep(0.02)
        if i % 10 == 7:
            raise PluginFailure
        return i

    async def drive() -> None:
        for i in range(20):
            try:
                await async_call(i)
            except PluginFailure:
                pass

    asyncio.run(drive())
    monitor.flush()
    _assert_twenty_ms_one_in_ten(sink.samples[-1], 20)

    with monitor.track(user="alice") as call:
        call.fail()  # an error answer that does not raise
    with monitor.track(user="bob"), monitor.track(user="alice"):
        pass
    monitor.close()
    assert sink.samples[-1]["request_count"] == 3
    assert sink.samples[-1]["error_rate"] == pytest.approx(1 / 3)
    assert sink.samples[-1]["active_users"] == 2


def test_background_thread_flushes_each_interval_and_sink_4xx_is_not_retried():
    sink = RecordingSink()
    with PluginMonitor("bg-plugin", sink=sink, flush_interval=0.2) as monitor:
        with monitor.track():
            pass
        wait_until(lambda: len(sink.samples) >= 3, timeout=5, what="three interval samples")
    counts = [s["request_count"] for s in sink.samples]
    assert sum(counts) == 1 and counts[0] == 1  # one sample per interval, idle ones say 0
    # Full intervals carry the process' CPU and memory (close() may cut a window too short for CPU).
    assert all("cpu_percent" in s and "memory_mb" in s for s in sink.samples[:3])

    def refusing_sink(plugin_id: str, samples: list[dict]) -> None:
        raise ValidationError("bad sample", field="samples[0].cpu_percent")

    monitor = PluginMonitor("refused", sink=refusing_sink, flush_interval=600)
    assert monitor.flush() is True  # dropped as rejected, not kept to fail forever
    assert monitor.stats()["rejected"] == 1
    monitor.close()


class Collector:
    """A stand-in analytics server over real HTTP that records the POSTed batches; it can be
    stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[tuple[str, str, dict]] = []
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                collector.requests.append((self.path, self.headers.get("Authorization"), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.server = None

    @property
    def samples(self) -> list[dict]:
        return [s for _, _, body in self.requests for s in body["samples"]]


@pytest.fixture
def collector():
    c = Collector()
    c.start()
    yield c
    if c.server is not None:
        c.stop()


def test_server_down_then_back_host_unaffected_and_buffer_delivered(collector):
    monitor = PluginMonitor(
        "http-plugin",
        endpoint=f"http://127.0.0.1:{collector.port}/",
        token="s3cret",
        flush_interval=0.1,
        max_backoff=0.3,
    )

    @monitor.tracked
    def plugin_call() -> str:
        time.sleep(0.001)
        return "ok"

    calls = 0
    for _ in range(20):
        plugin_call()
        calls += 1
    wait_until(lambda: collector.samples, timeout=5, what="the first delivery")
    path, auth, _ = collector.requests[0]
    assert path == "/api/plugin-ai-analytics/collect-metrics/http-plugin"
    assert auth == "Bearer s3cret"

    collector.stop()
    slowest = 0.0
    down_until = time.monotonic() + 1.0
    while time.monotonic() < down_until:
        started = time.perf_counter()
        assert plugin_call() == "ok"
        slowest = max(slowest, time.perf_counter() - started)
        calls += 1
    # The host never waits for the dead server (that would take the 5 s timeout); the bound
    # leaves room for a crowded machine's scheduling.
    assert slowest < 0.25
    down = monitor.stats()
    assert down["buffered"] >= 3 and down["failed_attempts"] >= 1 and down["dropped"] == 0

    received_before = len(collector.samples)
    collector.start()
    wait_until(
        lambda: monitor.stats()["buffered"] == 0 and monitor.stats()["sent"] > received_before,
        timeout=5,
        what="the buffered samples to arrive",
    )
    monitor.close()

    # Every call made, while the server was up or down, is counted exactly once.
    assert sum(s["request_count"] for s in collector.samples) == calls
    stamps = [s["timestamp"] for s in collector.samples]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert monitor.stats()["sent"] == len(collector.samples)


def test_buffer_is_bounded_and_close_does_not_hang():
    port = free_port()  # nothing listens here
    monitor = PluginMonitor(
        "bounded", endpoint=f"http://127.0.0.1:{port}", flush_interval=0.05, max_buffer=3, max_backoff=0.05
    )
    wait_until(lambda: monitor.stats()["dropped"] >= 3, timeout=5, what="old samples to be dropped")
    assert monitor.stats()["buffered"] <= 3

    collector = Collector()
    collector.port = port
    collector.start()
    try:
        wait_until(lambda: monitor.stats()["sent"] >= 3, timeout=5, what="delivery after restart")
    finally:
        collector.stop()
    # What was waiting when the server came back fits in the bound: older samples were dropped.
    assert 1 <= len(collector.requests[0][2]["samples"]) <= 3

    started = time.monotonic()
    monitor.close(timeout=1.0)
    assert time.monotonic() - started < 1.5


@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_a_forked_worker_reports_its_own_calls(collector):
    monitor = PluginMonitor("forked", endpoint=f"http://127.0.0.1:{collector.port}", flush_interval=600)
    for _ in range(3):
        with monitor.track():
            pass

    pid = os.fork()
    if pid == 0:  # the worker: its own thread delivers its own 5 calls, not the parent's 3
        code = 1
        try:
            for _ in range(5):
                with monitor.track():
                    pass
            monitor.close(timeout=5)
            code = 0 if monitor.stats()["sent"] == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    monitor.close()

    assert sorted(s["request_count"] for s in collector.samples) == [3, 5]
