"""The seed's Python API: ``from plugin_ai_analytics import ai_analytics`` and its async methods."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import plugin_ai_analytics
from plugin_ai_analytics import PluginAIAnalytics, PluginMetrics
from plugin_ai_analytics.errors import ValidationError

from ..conftest import make_settings


def test_public_names() -> None:
    assert sorted(plugin_ai_analytics.__all__) == ["PluginAIAnalytics", "PluginMetrics", "__version__", "ai_analytics"]
    assert isinstance(plugin_ai_analytics.ai_analytics, PluginAIAnalytics)


@pytest.fixture
def analytics(tmp_path: Path, database_url: str):
    api = PluginAIAnalytics(make_settings(tmp_path, database_url, scheduler_enabled=False))
    yield api
    api.close()


async def test_collect_metrics_stores_samples(analytics: PluginAIAnalytics) -> None:
    sample = PluginMetrics("shop", datetime(2026, 11, 1, tzinfo=UTC), cpu_percent=12.0, memory_mb=300.0)
    result = await analytics.collect_metrics("shop", sample)
    assert result["stored"] == 1
    await analytics.collect_metrics("shop", [{"timestamp": "2026-11-01T00:01:00Z", "error_rate": 0.5}])
    history = analytics.metrics_history["shop"]
    assert [h.cpu_percent for h in history] == [12.0, None]
    assert history[1].error_rate == 0.5
    assert list(analytics.metrics_history) == ["shop"]


async def test_bad_sample_names_the_field(analytics: PluginAIAnalytics) -> None:
    with pytest.raises(ValidationError) as err:
        await analytics.collect_metrics("shop", {"timestamp": "2026-11-01T00:00:00Z", "error_rate": 3})
    assert err.value.field == "samples[0].error_rate"
    with pytest.raises(KeyError):
        analytics.metrics_history["shop"]


def test_docstring_example_runs() -> None:
    import doctest

    import plugin_ai_analytics.python_api as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


async def test_train_and_predict_fill_the_debugging_attributes(analytics: PluginAIAnalytics) -> None:
    from ..api.test_forecasts import synthetic_plugin

    await analytics.collect_metrics("shop", synthetic_plugin(5))
    result = await analytics.train_models("shop")
    assert "cpu_percent" in result["trained"]
    forecast = await analytics.predict_performance("shop")
    assert len(forecast["metrics"]["cpu_percent"]["forecast"]) == 288
    assert analytics.models["shop"]["cpu_percent"]["version"] == 1
    assert analytics.last_training["shop"] <= datetime.now(UTC)
    assert analytics.predictions["shop"]["metrics"].keys() == forecast["metrics"].keys()
    # every method answers plain dicts, as the seed's (issue 10 #15: suggestions were namedtuples)
    advice = await analytics.generate_optimization_suggestions("shop")
    assert type(advice) is dict and all(type(s) is dict for s in advice["suggestions"])
    summary = await analytics.get_analytics_summary("shop")
    assert type(summary) is dict and type(summary["data_quality"]) is dict


async def test_using_the_api_starts_no_collection_or_schedule(tmp_path: Path) -> None:
    """Issue 10 #9: the Python API started a whole service, whose sampler wrote samples into the
    running server's plugins. Now a registered source is sampled only after start_background()."""
    import os
    import time

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'shared.db'}")  # the scheduler setting is on
    api = PluginAIAnalytics(settings)
    try:
        api.service.register_plugin(
            {"plugin_id": "me", "source": {"type": "process", "pid": os.getpid()}, "interval_seconds": 1}
        )
        await api.collect_metrics("shop", {"timestamp": datetime.now(UTC).isoformat(), "cpu_percent": 1.0})
        time.sleep(2.5)
        assert not api.service.scheduler.running
        assert api.service.get_plugin("me").samples == 0
        api.start_background()
        deadline = time.monotonic() + 10
        while api.service.get_plugin("me").samples == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert api.service.scheduler.running and api.service.get_plugin("me").samples >= 1
    finally:
        api.close()
