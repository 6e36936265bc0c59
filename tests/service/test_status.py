"""Status: the health of the service itself (database, its own process, scheduler, executor,
models, detection, data quality) read across every part; a database that is gone is reported,
not raised."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from plugin_ai_analytics._version import __version__
from plugin_ai_analytics.jobs.executor import JobRunner
from plugin_ai_analytics.jobs.inprocess import InProcessExecutor
from plugin_ai_analytics.jobs.scheduler import Scheduler
from plugin_ai_analytics.schemas import SystemStatus
from plugin_ai_analytics.service.detection import Detection
from plugin_ai_analytics.service.forecasts import Forecasts
from plugin_ai_analytics.service.ingest import Ingest
from plugin_ai_analytics.service.plugins import Plugins
from plugin_ai_analytics.service.sources import Sources
from plugin_ai_analytics.service.status import Status
from plugin_ai_analytics.store import Store

from ..conftest import PG_ADMIN_URL
from .conftest import detection_of, forecasts_of, recent_end, stored, synthetic_plugin


class Service:
    """The parts Status reports on, wired as the facade wires them (scheduler not started)."""

    def __init__(self, store: Store, settings) -> None:
        self.jobs = JobRunner(store.jobs, workers=1)
        self.scheduler = Scheduler(self.jobs.run_now)
        self.detection: Detection = detection_of(store)
        ingest = Ingest(
            settings=settings,
            metrics=store.metrics,
            rejections=store.rejections,
            plugins=store.plugins,
            detection=self.detection,
        )
        sources = Sources(plugins=store.plugins, scheduler=self.scheduler, ingest=ingest)
        self.plugins = Plugins(plugins=store.plugins, metrics=store.metrics, sources=sources, detection=self.detection)
        # as the facade wires it: the executor runs the named task "train_models" on this pool
        executor = InProcessExecutor(self.jobs, lambda kind: lambda pid, params, p: self.forecasts.run_training(pid, p))
        self.forecasts: Forecasts = forecasts_of(store, settings, jobs=executor)
        self.status = Status(
            store=store,
            jobs=self.jobs,
            scheduler=self.scheduler,
            plugins=self.plugins,
            forecasts=self.forecasts,
            detection=self.detection,
        )


@pytest.fixture
def service(store: Store, settings) -> Iterator[Service]:
    parts = Service(store, settings)
    yield parts
    parts.jobs.shutdown(wait=True)


def test_the_status_reports_every_part(store: Store, service: Service) -> None:
    fresh = service.status.report()
    assert isinstance(fresh, SystemStatus)
    assert (fresh.ok, fresh.version, fresh.database.ok) == (True, __version__, True)
    assert fresh.database.dialect == store.dialect and fresh.database.latency_ms >= 0
    assert (fresh.process.pid, fresh.process.memory_mb > 0, fresh.process.threads >= 1) == (os.getpid(), True, True)
    assert fresh.models.model_dump() == {
        "active": 0,
        "plugins_with_models": 0,
        "last_training": None,
        "training_jobs_running": 0,
    }
    assert (fresh.anomaly_detection.scoring_p50_ms, fresh.anomaly_detection.detectors_in_memory) == (None, 0)

    # a plugin with a source whose last sample is old, one that pushes and is trained, a refused batch
    service.plugins.register({"plugin_id": "worker", "source": {"type": "process", "pid": os.getpid()}})
    stored(store, "worker", synthetic_plugin(0.05, end=recent_end(1)))
    stored(store, "shop", synthetic_plugin(2.5, end=recent_end(0)))
    service.forecasts.train_now("shop", predict_after=False)
    service.detection.detect_now("shop")
    store.rejections.record("guarded", "samples[0].error_rate", "samples[0].error_rate: too high", 1)

    status = service.status.report()
    assert status.plugins.model_dump() == {"registered": 2, "with_source": 1}  # a refused batch registers none
    trained = service.forecasts.trained_models()
    assert (status.models.active, status.models.plugins_with_models) == (6, 1)
    assert status.models.last_training == max(m.trained_at for m in trained)
    assert status.scheduler.model_dump() == {"running": False, "tasks": 1, "task_failures": 0, "failing": []}
    assert (status.executor.workers, status.executor.queue_depth, status.executor.jobs) == (1, 0, {})
    detection = status.anomaly_detection
    assert detection.detectors_in_memory == 1 and detection.scoring_p50_ms > 0
    assert detection.open_anomalies == {
        severity: len(service.detection.history("shop", state="open", severity=severity))
        for severity in ("High", "Medium", "Low")
    }
    assert status.data_quality.model_dump() == {
        "stale_plugins": ["worker"],  # no sample for over 3 of its 60 s intervals
        "rejected_batches_24h": 1,
        "plugins_with_rejections_24h": ["guarded"],
    }
    assert status.uptime_s >= fresh.uptime_s


def test_a_queued_training_is_counted_until_it_ends(store: Store, service: Service) -> None:
    stored(store, "shop", synthetic_plugin(0.5, end=recent_end(0)))
    # the one worker is held, so the training waits in the queue while it is counted (it would
    # otherwise fail on its too-short history before the report could see it)
    release = threading.Event()
    service.jobs.submit("hold", None, lambda progress: {"released": release.wait(30)})
    job_id = service.forecasts.submit_training("shop")
    assert service.status.report().models.training_jobs_running == 1
    release.set()
    deadline = time.monotonic() + 30
    while store.jobs.get(job_id)["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.02)  # it runs to its end (too little data: it fails)
    status = service.status.report()
    assert status.models.training_jobs_running == 0
    assert status.executor.jobs == {"failed": 1, "succeeded": 1}
    assert store.jobs.get(job_id)["status"] == "failed"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_database_that_is_gone_is_reported_not_raised(store: Store, service: Service) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{store.engine.url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()
    status = service.status.report()
    assert (status.ok, status.database.ok, status.database.dialect) == (False, False, "postgresql")
    assert status.database.error
    assert (status.plugins, status.models, status.anomaly_detection, status.data_quality) == (None, None, None, None)
    assert status.executor.jobs is None and status.process.pid == os.getpid()
