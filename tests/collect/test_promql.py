"""The PromQL source asks a real Prometheus server, which scrapes a real exporter every second."""

from __future__ import annotations

import psutil
import pytest

from plugin_ai_analytics.collect import build_source
from plugin_ai_analytics.errors import SourceError

from .conftest import PROMETHEUS_JOB, free_port

pytestmark = pytest.mark.slow  # starts a real Prometheus server

JOB = f'job="{PROMETHEUS_JOB}"'


def test_each_field_gets_its_query_result(prometheus_server):
    source = build_source(
        {
            "type": "promql",
            "url": prometheus_server.url + "/",
            "queries": {
                "request_count": f"sum(http_requests_total{{{JOB}}})",
                "error_rate": (f'sum(http_requests_total{{{JOB},status=~"5.."}}) / sum(http_requests_total{{{JOB}}})'),
                "response_time_ms": (
                    f"1000 * sum(http_request_duration_seconds_sum{{{JOB}}})"
                    f" / sum(http_request_duration_seconds_count{{{JOB}}})"
                ),
                "memory_mb": f"process_resident_memory_bytes{{{JOB}}} / 1048576",
                "active_users": f"scalar(active_users{{{JOB}}})",  # a scalar answer, not a vector
            },
        }
    )

    values = source.collect()

    assert values["request_count"] == 10 and isinstance(values["request_count"], int)
    assert values["error_rate"] == pytest.approx(0.1)
    assert values["response_time_ms"] == pytest.approx(1000 * (9 * 0.01 + 0.1) / 10)  # 19 ms
    assert values["memory_mb"] == pytest.approx(psutil.Process().memory_info().rss / 2**20, rel=0.2)
    assert values["active_users"] == 7


def test_a_vector_is_summed_and_an_empty_one_is_absent(prometheus_server):
    values = build_source(
        {
            "type": "promql",
            "url": prometheus_server.url,
            "queries": {
                "request_count": f"http_requests_total{{{JOB}}}",  # two series: 9 + 1
                "active_users": "no_such_metric_anywhere",
            },
        }
    ).collect()

    assert values == {"request_count": 10, "active_users": None}


def test_failed_queries_are_named_by_field(prometheus_server):
    source = build_source(
        {
            "type": "promql",
            "url": prometheus_server.url,
            "queries": {
                "request_count": f"sum(http_requests_total{{{JOB}}})",
                "error_rate": "sum(rate(",
                "cpu_percent": f"process_cpu_seconds_total{{{JOB}}}[1m]",
            },
        }
    )

    with pytest.raises(SourceError) as raised:
        source.collect()

    assert raised.value.details["fields"] == ["cpu_percent", "error_rate"]
    assert "error_rate: bad_data" in raised.value.message
    assert "cpu_percent: query returns a matrix" in raised.value.message


def test_an_unreachable_server_is_a_source_error():
    source = build_source(
        {
            "type": "promql",
            "url": f"http://127.0.0.1:{free_port()}",
            "queries": {"cpu_percent": "up"},
        }
    )
    with pytest.raises(SourceError, match="unreachable"):
        source.collect()
