"""The collect package's public names change only on purpose."""

import plugin_ai_analytics.collect as collect


def test_exported_names():
    assert sorted(collect.__all__) == [
        "MetricValues",
        "PluginMonitor",
        "ProcessSourceConfig",
        "PromQLSourceConfig",
        "PrometheusMapping",
        "PrometheusSourceConfig",
        "Source",
        "SourceConfig",
        "TrackedCall",
        "build_source",
        "parse_source_config",
    ]
    for name in collect.__all__:
        assert getattr(collect, name) is not None
