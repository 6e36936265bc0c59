"""Source configurations as the plugin registry stores them (YAML and API JSON)."""

from __future__ import annotations

import pytest
import yaml

from plugin_ai_analytics.collect import (
    ProcessSourceConfig,
    PrometheusSourceConfig,
    PromQLSourceConfig,
    build_source,
    parse_source_config,
)
from plugin_ai_analytics.collect.process import ProcessSource
from plugin_ai_analytics.collect.promql import PromQLSource
from plugin_ai_analytics.collect.scrape import ScrapeSource
from plugin_ai_analytics.errors import ValidationError

REGISTRY_YAML = """
plugins:
  - id: search-indexer
    source: {type: process, cmdline: "indexer\\\\.py --plugin search"}
  - id: image-resizer
    source:
      type: prometheus
      url: http://10.0.0.5:9100/metrics
      labels: {plugin: image-resizer}
      mapping: {status_label: code, error_status: "5..|429"}
  - id: payments
    source:
      type: promql
      url: http://prometheus:9090
      queries:
        cpu_percent: 100 * sum(rate(process_cpu_seconds_total{job="payments"}[1m]))
        error_rate: >-
          sum(rate(http_requests_total{job="payments",status=~"5.."}[5m]))
          / sum(rate(http_requests_total{job="payments"}[5m]))
"""


def test_yaml_registry_entries_build_their_sources():
    plugins = yaml.safe_load(REGISTRY_YAML)["plugins"]
    configs = [parse_source_config(p["source"]) for p in plugins]

    assert isinstance(configs[0], ProcessSourceConfig)
    assert configs[0].cmdline == r"indexer\.py --plugin search"
    assert isinstance(configs[1], PrometheusSourceConfig)
    assert configs[1].mapping.status_label == "code"
    assert configs[1].mapping.requests_total == "http_requests_total"  # unspecified names keep defaults
    assert isinstance(configs[2], PromQLSourceConfig)
    assert set(configs[2].queries) == {"cpu_percent", "error_rate"}
    error_query = configs[2].queries["error_rate"]
    assert error_query.startswith("sum(rate(") and "\n" not in error_query
    # A config round-trips through JSON (the API and the store keep it as JSON).
    assert parse_source_config(configs[1].model_dump(mode="json")) == configs[1]

    sources = [build_source(c) for c in configs]
    assert [type(s) for s in sources] == [ProcessSource, ScrapeSource, PromQLSource]
    assert isinstance(build_source({"type": "process", "pid": 1}), ProcessSource)


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"type": "process"}, "source", "exactly one of pid, name or cmdline"),
        ({"type": "process", "pid": 1, "name": "x"}, "source", "got pid, name"),
        ({"type": "process", "pid": 0}, "source.pid", "greater than 0"),
        ({"type": "process", "cmdline": "(unclosed"}, "source.cmdline", "not a valid regular expression"),
        ({"type": "process", "pid": 1, "interval": 5}, "source.interval", "Extra inputs"),
        ({"type": "kafka"}, "source.type", "does not match"),
        ({"pid": 1}, "source.type", "Unable to extract tag"),
        ({"type": "prometheus", "url": "file:///etc/passwd"}, "source.url", "http://"),
        ({"type": "prometheus", "url": "http://h/m", "timeout": 0}, "source.timeout", "greater than 0"),
        (
            {"type": "prometheus", "url": "http://h/m", "mapping": {"error_status": "["}},
            "source.mapping.error_status",
            "regular expression",
        ),
        ({"type": "promql", "url": "http://p:9090", "queries": {}}, "source.queries", "at least 1"),
        ({"type": "promql", "url": "http://p:9090", "queries": {"cpu": "up"}}, "source.queries", "unknown metric"),
    ],
)
def test_invalid_configs_name_the_field(config, field, message):
    with pytest.raises(ValidationError, match=message) as raised:
        parse_source_config(config)
    assert raised.value.field == field
