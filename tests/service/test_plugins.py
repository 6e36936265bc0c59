"""Plugins: the registry as a use case. A registration (from a client or a YAML file) creates or
replaces a plugin and starts sampling its source; reading it adds how much data it has; deleting
it removes every record of it and stops its sampling and its detector."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin_ai_analytics.errors import NotFound, ValidationError
from plugin_ai_analytics.jobs.executor import JobRunner
from plugin_ai_analytics.jobs.scheduler import Scheduler
from plugin_ai_analytics.schemas import Plugin
from plugin_ai_analytics.service.detection import Detection
from plugin_ai_analytics.service.ingest import Ingest
from plugin_ai_analytics.service.plugins import Plugins
from plugin_ai_analytics.service.sources import Sources
from plugin_ai_analytics.store import Store

from .conftest import detection_of, recent_end, stored, synthetic_plugin


@pytest.fixture
def scheduler(store: Store) -> Iterator[Scheduler]:
    jobs = JobRunner(store.jobs, workers=1)
    yield Scheduler(jobs.run_now)  # never started: these tests read what is scheduled
    jobs.shutdown(wait=True)


@pytest.fixture
def detection(store: Store) -> Detection:
    return detection_of(store)


@pytest.fixture
def plugins(store: Store, scheduler: Scheduler, detection: Detection, settings) -> Plugins:
    ingest = Ingest(
        settings=settings,
        metrics=store.metrics,
        rejections=store.rejections,
        plugins=store.plugins,
        detection=detection,
    )
    sources = Sources(plugins=store.plugins, scheduler=scheduler, ingest=ingest)
    return Plugins(plugins=store.plugins, metrics=store.metrics, sources=sources, detection=detection)


def test_a_push_only_registration_gets_the_defaults(plugins: Plugins) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    plugin = plugins.register({"plugin_id": "shop"})
    assert isinstance(plugin, Plugin)
    assert plugin.model_dump(exclude={"created_at"}) == {
        "plugin_id": "shop",
        "name": "shop",
        "description": "",
        "source": None,
        "interval_seconds": 60.0,
        "enabled": True,
        "memory_limit_mb": None,
        "cpu_limit_percent": None,
        "keep_history": False,
        "labels": {},
        "source_status": None,
        "samples": 0,
        "first_sample": None,
        "last_sample": None,
    }
    assert before <= datetime.fromisoformat(plugin.created_at.replace("Z", "+00:00")) <= datetime.now(UTC)


def test_a_registration_with_a_source_is_sampled_and_one_without_is_not(plugins: Plugins, scheduler: Scheduler) -> None:
    plugin = plugins.register({"plugin_id": "worker", "source": {"type": "process", "pid": os.getpid()}})
    assert plugin.source == {"type": "process", "pid": os.getpid(), "name": None, "cmdline": None}
    assert scheduler.names() == ["collect:worker"]
    plugins.register({"plugin_id": "worker"})  # replaced: now push-only
    assert scheduler.names() == []


def test_registering_again_replaces_the_registration_and_keeps_its_creation(plugins: Plugins, store: Store) -> None:
    first = plugins.register({"plugin_id": "shop", "name": "Shop", "memory_limit_mb": 512, "cpu_limit_percent": 100})
    again = plugins.register(
        {
            "plugin_id": "shop",
            "name": "Web shop",
            "description": "checkout",
            "interval_seconds": 30,
            "memory_limit_mb": 1024,
            "cpu_limit_percent": 200,
        }
    )
    assert (again.name, again.description, again.interval_seconds) == ("Web shop", "checkout", 30.0)
    assert (again.memory_limit_mb, again.cpu_limit_percent) == (1024.0, 200.0)
    assert again.created_at == first.created_at
    assert plugins.get("shop") == again


def test_a_plugin_first_seen_by_its_samples_can_be_given_its_limits(plugins: Plugins, store: Store) -> None:
    samples = synthetic_plugin(0.1, end=recent_end(1))
    stored(store, "pushed", samples)  # registered as push-only on first sight
    plugin = plugins.register({"plugin_id": "pushed", "memory_limit_mb": 2048, "cpu_limit_percent": 150})
    assert (plugin.memory_limit_mb, plugin.cpu_limit_percent) == (2048.0, 150.0)
    assert plugin.samples == len(samples)
    assert plugin.first_sample == samples[0]["timestamp"].replace("+00:00", "Z")
    assert plugin.last_sample == samples[-1]["timestamp"].replace("+00:00", "Z")


def test_every_plugin_is_listed_by_id_with_its_data(plugins: Plugins, store: Store) -> None:
    stored(store, "zeta", synthetic_plugin(0.05, end=recent_end(1)))
    plugins.register({"plugin_id": "alpha"})
    listed = plugins.all()
    assert [(p.plugin_id, p.samples) for p in listed] == [("alpha", 0), ("zeta", 14)]
    assert listed == [plugins.get("alpha"), plugins.get("zeta")]


def test_an_unknown_plugin_is_not_found(plugins: Plugins) -> None:
    with pytest.raises(NotFound) as caught:
        plugins.get("ghost")
    assert caught.value.message == "plugin 'ghost' is not registered and has sent no metrics"
    with pytest.raises(NotFound) as deleted:
        plugins.delete("ghost")
    assert deleted.value.message == "plugin 'ghost' is not registered"


def test_an_invalid_registration_names_the_field(plugins: Plugins, store: Store) -> None:
    for spec, field in [
        ({"plugin_id": "shop", "interval_seconds": 0}, "interval_seconds"),
        ({"plugin_id": "-bad$id"}, "plugin_id"),
        ({"plugin_id": "shop", "colour": "red"}, "colour"),
        ({"plugin_id": "shop", "source": {"type": "process"}}, "source"),
    ]:
        with pytest.raises(ValidationError) as caught:
            plugins.register(spec)
        assert caught.value.field == field, spec
    assert store.plugins.all() == []
    with pytest.raises(ValidationError) as caught:
        plugins.register({"plugin_id": "shop", "interval_seconds": 0})
    assert caught.value.message == "interval_seconds: Input should be greater than or equal to 1"


def test_deleting_a_plugin_removes_its_records_its_sampling_and_its_detector(
    plugins: Plugins, store: Store, scheduler: Scheduler, detection: Detection
) -> None:
    plugins.register({"plugin_id": "worker", "source": {"type": "process", "pid": os.getpid()}})
    stored(store, "worker", synthetic_plugin(1, end=recent_end(1)))
    detection.detect_now("worker")
    detection.flush_states()
    stored(store, "other", synthetic_plugin(0.05, end=recent_end(1)))
    assert store.detector_states.load("worker") is not None and detection.loaded_count == 1

    plugins.delete("worker")
    assert [p.plugin_id for p in plugins.all()] == ["other"]
    assert store.metrics.extent("worker")["samples"] == 0
    assert store.detector_states.load("worker") is None
    assert store.anomalies.find("worker") == []
    assert scheduler.names() == [] and detection.loaded_count == 0
    assert store.metrics.extent("other")["samples"] == 14  # the others keep theirs


def test_a_registry_file_registers_every_plugin_or_none(plugins: Plugins, store: Store, tmp_path: Path) -> None:
    good = tmp_path / "plugins.yaml"
    good.write_text(
        "plugins:\n"
        "  - id: checkout\n"
        "    name: Checkout\n"
        "    memory_limit_mb: 512\n"
        "  - plugin_id: search\n"
        f"    source: {{type: process, pid: {os.getpid()}}}\n"
    )
    assert plugins.load_file(good) == ["checkout", "search"]
    assert [(p.plugin_id, p.name, p.memory_limit_mb) for p in plugins.all()] == [
        ("checkout", "Checkout", 512.0),
        ("search", "search", None),
    ]

    bad = tmp_path / "bad.yaml"
    bad.write_text("plugins:\n  - id: fine\n  - id: broken\n    interval_seconds: 0\n")
    with pytest.raises(ValidationError) as caught:
        plugins.load_file(bad)
    assert caught.value.field == "plugins[1].interval_seconds"
    assert caught.value.message.startswith(f"{bad}:3: plugins[1] (plugin_id 'broken'): field interval_seconds: ")
    assert store.plugins.get("fine") is None
