"""Sources: a registered plugin with a source is read on its interval by the scheduler, or once on
demand; what a source reads is ingested like any pushed sample, a source that gives nothing yet
stores nothing, and a failing source is a ``SourceError`` that stores nothing either."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import pytest

from plugin_ai_analytics.errors import NotFound, SourceError, ValidationError
from plugin_ai_analytics.jobs.executor import JobRunner
from plugin_ai_analytics.jobs.scheduler import Scheduler
from plugin_ai_analytics.schemas import IngestResult
from plugin_ai_analytics.security.outbound import Allowlist
from plugin_ai_analytics.service.ingest import Ingest
from plugin_ai_analytics.service.sources import Sources
from plugin_ai_analytics.store import Store

from ..collect.conftest import TextExporter
from .conftest import detection_of


@pytest.fixture
def scheduler(sqlite_store: Store) -> Iterator[Scheduler]:
    """The scheduler as the service runs it (work on the job pool), waking every 50 ms."""
    jobs = JobRunner(sqlite_store.jobs, workers=1)
    scheduler = Scheduler(jobs.run_now, tick=0.05)
    yield scheduler
    scheduler.stop()
    jobs.shutdown(wait=True)


@pytest.fixture
def sources(sqlite_store: Store, scheduler: Scheduler, settings) -> Sources:
    ingest = Ingest(
        settings=settings,
        metrics=sqlite_store.metrics,
        rejections=sqlite_store.rejections,
        plugins=sqlite_store.plugins,
        detection=detection_of(sqlite_store),
    )
    # the test exporters listen on loopback, which the outbound guard refuses unless allowed
    return Sources(plugins=sqlite_store.plugins, scheduler=scheduler, ingest=ingest, allow=Allowlist.parse("127.0.0.1"))


@pytest.fixture
def exporter() -> Iterator[TextExporter]:
    served = TextExporter()
    yield served
    served.close()


def register(store: Store, plugin_id: str, source: dict | None, **extra: Any) -> dict:
    store.plugins.upsert({"plugin_id": plugin_id, "source": source, **extra})
    return store.plugins.get(plugin_id)


def exposition(ok: int, failed: int, resident_mib: float | None = None) -> str:
    text = f'# TYPE http_requests_total counter\nhttp_requests_total{{status="200"}} {ok}\n'
    text += f'http_requests_total{{status="500"}} {failed}\n'
    if resident_mib is not None:
        text += f"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {resident_mib * 2**20}\n"
    return text


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_collecting_once_from_a_process_stores_its_memory_and_cpu(sqlite_store: Store, sources: Sources) -> None:
    register(sqlite_store, "self", {"type": "process", "pid": os.getpid()})
    before = datetime.now(UTC) - timedelta(milliseconds=1)  # stored to the millisecond
    result = sources.collect_once("self")
    assert (result.plugin_id, result.received, result.stored, result.note) == ("self", 1, 1, None)
    assert result.first == result.last
    assert before <= datetime.fromisoformat(result.first.replace("Z", "+00:00")) <= datetime.now(UTC)
    ((ts, cpu, memory, *others),) = sqlite_store.metrics.rows("self")
    rss = psutil.Process().memory_info().rss / 2**20
    assert abs(memory - rss) / rss < 0.2
    assert cpu is not None and cpu >= 0  # measured over a short first interval, never an invented 0
    assert others == [None] * 5


def test_counters_give_nothing_on_the_first_scrape_and_rates_from_the_second(
    sqlite_store: Store, sources: Sources, exporter: TextExporter
) -> None:
    register(sqlite_store, "web", {"type": "prometheus", "url": exporter.url})
    exporter.text = exposition(90, 10)
    assert sources.collect_once("web") == IngestResult(
        plugin_id="web", received=0, stored=0, note="source gave no values yet"
    )
    assert sqlite_store.plugins.get("web") is not None and sqlite_store.metrics.extent("web")["samples"] == 0

    exporter.text = exposition(180, 20, resident_mib=100.0)
    assert sources.collect_once("web").stored == 1
    ((_, cpu, memory, _, _, error_rate, requests, users),) = sqlite_store.metrics.rows("web")
    assert (memory, requests, error_rate) == (100.0, 100, 0.1)  # 100 more requests, 10 of them 5xx
    assert (cpu, users) == (None, None)


def test_a_failing_source_is_a_source_error_and_stores_nothing(
    sqlite_store: Store, sources: Sources, exporter: TextExporter
) -> None:
    pid = dead_pid()
    register(sqlite_store, "gone", {"type": "process", "pid": pid})
    with pytest.raises(SourceError) as caught:
        sources.collect_once("gone")
    assert caught.value.message == f"no running process matches pid={pid}"

    register(sqlite_store, "garbled", {"type": "prometheus", "url": exporter.url})
    exporter.text = "this is { not an exposition"
    with pytest.raises(SourceError, match=r"^scrape http://127\.0\.0\.1:\d+/metrics: not a Prometheus exposition"):
        sources.collect_once("garbled")
    assert sqlite_store.metrics.extents() == {}


class CrashingSource:
    """A collector with a bug: the one kind of source no real endpoint can stand in for."""

    def collect(self) -> dict[str, float]:
        raise KeyError("value")


def test_a_crashing_source_becomes_a_source_error_naming_the_plugin(sqlite_store: Store, sources: Sources) -> None:
    register(sqlite_store, "buggy", {"type": "process", "pid": os.getpid()})
    # A fake, because no real source raises anything but SourceError: this pins the guard that
    # turns a collector's bug into a 502 naming the plugin instead of a 500.
    sources._sources["buggy"] = CrashingSource()
    with pytest.raises(SourceError) as caught:
        sources.collect_once("buggy")
    assert (caught.value.message, caught.value.details) == ("source of 'buggy' failed: 'value'", {"plugin_id": "buggy"})


def test_a_plugin_without_a_source_or_registration_cannot_be_collected(sqlite_store: Store, sources: Sources) -> None:
    with pytest.raises(NotFound) as missing:
        sources.collect_once("ghost")
    assert missing.value.message == "plugin 'ghost' is not registered"
    register(sqlite_store, "pushing", None)
    with pytest.raises(ValidationError) as sourceless:
        sources.collect_once("pushing")
    assert sourceless.value.field == "body"
    assert sourceless.value.message == (
        "plugin 'pushing' has no source to collect from: send a batch of samples in the body, "
        "or register a source (process, prometheus or promql)"
    )


def test_a_scheduled_source_gains_a_sample_every_interval_until_forgotten(
    sqlite_store: Store, sources: Sources, scheduler: Scheduler, exporter: TextExporter
) -> None:
    exporter.text = exposition(1, 0, resident_mib=64.0)
    plugin = register(sqlite_store, "web", {"type": "prometheus", "url": exporter.url}, interval_seconds=0.2)
    sources.schedule(plugin)
    assert scheduler.names() == ["collect:web"]
    scheduler.start()
    deadline = time.monotonic() + 10
    while sqlite_store.metrics.extent("web")["samples"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    extent = sqlite_store.metrics.extent("web")
    assert extent["samples"] >= 3
    assert 100 <= (extent["last_ts"] - extent["first_ts"]) / (extent["samples"] - 1) <= 1000  # ~200 ms apart

    sources.forget("web")
    assert scheduler.names() == []
    time.sleep(0.4)  # a collection already under way may still land; then nothing more
    settled = sqlite_store.metrics.extent("web")["samples"]
    time.sleep(0.5)
    assert sqlite_store.metrics.extent("web")["samples"] == settled


def test_only_an_enabled_plugin_with_a_source_is_scheduled(
    sqlite_store: Store, sources: Sources, scheduler: Scheduler
) -> None:
    source = {"type": "process", "pid": os.getpid()}
    sources.schedule(register(sqlite_store, "on", source))
    sources.schedule(register(sqlite_store, "off", source, enabled=False))
    sources.schedule(register(sqlite_store, "pushing", None))
    assert scheduler.names() == ["collect:on"]
    sources.schedule(register(sqlite_store, "on", source, enabled=False))  # re-registered, disabled
    assert scheduler.names() == []


def test_a_failing_scheduled_source_is_reported_by_the_scheduler(
    sqlite_store: Store, sources: Sources, scheduler: Scheduler
) -> None:
    sources.schedule(register(sqlite_store, "gone", {"type": "process", "pid": dead_pid()}, interval_seconds=0.1))
    scheduler.start()
    deadline = time.monotonic() + 10
    while not scheduler.status()["failing"] and time.monotonic() < deadline:
        time.sleep(0.05)
    status = scheduler.status()
    assert status["failing"] == ["collect:gone"] and status["task_failures"] >= 1
    assert sqlite_store.metrics.extents() == {}
