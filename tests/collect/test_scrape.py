"""The scrape source maps a real exporter's counters, histograms and gauges onto the fields."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from plugin_ai_analytics.collect import build_source
from plugin_ai_analytics.collect.base import PrometheusMapping
from plugin_ai_analytics.collect.scrape import ScrapeSource, histogram_quantile
from plugin_ai_analytics.errors import SourceError

from .conftest import free_port, proc_cpu_seconds


@pytest.fixture
def client_python_exporter():
    """prometheus_client's own HTTP server over a registry with the usual HTTP metrics."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
    from prometheus_client.exposition import start_http_server

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    metrics = {
        "requests": Counter("http_requests", "requests", ["status"], registry=registry),
        "duration": Histogram("http_request_duration_seconds", "latency", registry=registry),
        "users": Gauge("active_users", "users", registry=registry),
    }
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield f"http://127.0.0.1:{server.server_port}/metrics", metrics
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_mapped_values_equal_what_was_driven_between_two_scrapes(client_python_exporter):
    url, m = client_python_exporter
    m["users"].set(12)
    source = build_source({"type": "prometheus", "url": url})

    first = source.collect()
    # Counters need a previous scrape: the first one gives only the gauges.
    assert set(first) == {"memory_mb", "active_users"}
    assert first["active_users"] == 12

    cpu_before, at_before = proc_cpu_seconds(os.getpid()), time.monotonic()
    for i in range(20):
        m["requests"].labels(status="500" if i < 2 else "200").inc()
        m["duration"].observe(0.2 if i < 2 else 0.02)
    spin_until = time.monotonic() + 0.4
    while time.monotonic() < spin_until:  # burn CPU the exporter's process collector will see
        pass
    second = source.collect()
    independent_cpu = 100 * (proc_cpu_seconds(os.getpid()) - cpu_before) / (time.monotonic() - at_before)

    assert second["request_count"] == 20
    assert second["error_rate"] == pytest.approx(0.1)
    assert second["response_time_ms"] == pytest.approx(1000 * (18 * 0.02 + 2 * 0.2) / 20)  # 38 ms
    # 95th of 20 is the 19th: 1 into the 2 observations of the (0.1, 0.25] bucket -> 175 ms.
    assert second["response_time_p95_ms"] == pytest.approx(175.0)
    assert second["memory_mb"] == pytest.approx(psutil.Process().memory_info().rss / 2**20, rel=0.2)
    # The exporter reports this very process, which just spun for 0.4 s of a ~0.45 s window.
    assert second["cpu_percent"] == pytest.approx(independent_cpu, abs=20), (second, independent_cpu)
    assert second["cpu_percent"] > 30, (second, independent_cpu)

    third = source.collect()  # an idle interval: zero requests, no invented latency or error rate
    assert third["request_count"] == 0
    assert "response_time_ms" not in third and "error_rate" not in third


EXPOSITION = """\
# TYPE myapp_requests_total counter
myapp_requests_total{{plugin="a",code="200"}} {a_ok}
myapp_requests_total{{plugin="a",code="503"}} {a_err}
myapp_requests_total{{plugin="b",code="500"}} {b_err}
# TYPE myapp_latency_seconds summary
myapp_latency_seconds{{plugin="a",quantile="0.95"}} 0.3
myapp_latency_seconds_sum{{plugin="a"}} {a_sum}
myapp_latency_seconds_count{{plugin="a"}} {a_count}
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 104857600
"""


def test_custom_mapping_label_filter_and_counter_reset(text_exporter):
    mapping = PrometheusMapping(
        requests_total="myapp_requests_total",
        status_label="code",
        error_status="50[0-9]",
        request_duration="myapp_latency_seconds",
    )
    source = ScrapeSource(text_exporter.url, mapping=mapping, labels={"plugin": "a"})
    text_exporter.text = EXPOSITION.format(a_ok=100, a_err=10, b_err=999, a_sum=11.0, a_count=110)
    assert source.collect() == {"memory_mb": 100.0}

    text_exporter.text = EXPOSITION.format(a_ok=130, a_err=20, b_err=5000, a_sum=16.0, a_count=150)
    values = source.collect()
    assert values["request_count"] == 40  # plugin b's requests are filtered out
    assert values["error_rate"] == pytest.approx(10 / 40)
    assert values["response_time_ms"] == pytest.approx(1000 * 5.0 / 40)
    assert values["response_time_p95_ms"] == pytest.approx(300.0)  # the summary's own quantile

    # The target restarted: counters start again from zero, so the new values are the increase.
    text_exporter.text = EXPOSITION.format(a_ok=8, a_err=2, b_err=0, a_sum=0.5, a_count=10)
    values = source.collect()
    assert values["request_count"] == 10
    assert values["error_rate"] == pytest.approx(0.2)
    assert values["response_time_ms"] == pytest.approx(50.0)


def test_unreadable_endpoints_are_source_errors(text_exporter):
    # A closed port and a garbled page answer alike (the reason goes to the log): a source URL
    # must not work as a port scanner or a way to read other local pages (issue 14).
    with pytest.raises(SourceError, match="not a Prometheus exposition"):
        ScrapeSource(f"http://127.0.0.1:{free_port()}/metrics", timeout=2).collect()
    text_exporter.text = "this is { not an exposition"
    with pytest.raises(SourceError, match="not a Prometheus exposition"):
        ScrapeSource(text_exporter.url).collect()


def test_histogram_quantile_interpolates_inside_the_bucket():
    buckets = [(0.1, 50.0), (0.2, 90.0), (0.4, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.2 + 0.2 * 5 / 10)
    # Beyond the last finite bound nothing is known but that bound.
    assert histogram_quantile(0.99, [(0.1, 1.0), (float("inf"), 100.0)]) == pytest.approx(0.1)
    assert histogram_quantile(0.95, [(0.1, 0.0), (float("inf"), 0.0)]) is None
