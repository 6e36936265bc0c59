"""Bounded jobs (issue 16): one job per plugin and kind, a capped queue (429 + Retry-After), queued
work cancelled and recorded at shutdown, running work stopped at its next step; ``predict``
never trains."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plugin_ai_analytics.errors import QueueFull
from plugin_ai_analytics.jobs.executor import JobRunner, Progress
from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.store import Store

from ..api.test_forecasts import push
from ..conftest import AUTH, LiveServer, make_settings
from .conftest import forecasts_of, recent_end, stored, synthetic_plugin


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield opened
    opened.close()


def blocker(release: threading.Event, started: threading.Event | None = None):
    """A job that holds its worker until released, reporting progress as long work does."""

    def work(progress: Progress) -> dict:
        if started is not None:
            started.set()
        while not release.wait(0.01):
            progress(0.5)
        return {"done": True}

    return work


def test_a_second_job_of_the_same_kind_and_plugin_gets_the_first_ones_id(store: Store) -> None:
    runner = JobRunner(store.jobs, workers=1)
    release, started = threading.Event(), threading.Event()
    running, _ = runner.enqueue("train_models", "a", blocker(release, started))
    assert started.wait(5)
    queued, created = runner.enqueue("train_models", "b", blocker(release))
    assert created
    assert runner.enqueue("train_models", "a", blocker(release)) == (running, False)  # running one
    assert runner.enqueue("train_models", "b", blocker(release)) == (queued, False)  # queued one
    other, created = runner.enqueue("batch_analysis", None, blocker(release))  # no plugin: never merged
    assert created and other not in (running, queued)
    assert runner.state().queued == 2 and runner.is_active("train_models", "a")
    # the one worker is held by a long job: a scheduled task still runs (its own thread)
    assert runner.run_now(lambda x: x + 1, 41).result(timeout=5) == 42
    release.set()
    deadline = time.monotonic() + 10
    while runner.queue_depth and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.jobs.get(running)["status"] == "succeeded"
    again, created = runner.enqueue("train_models", "a", blocker(release))  # finished: a new job
    assert created and again != running
    runner.shutdown()
    assert store.jobs.counts().get("queued", 0) == 0


def test_a_full_queue_refuses_with_retry_after_and_shutdown_cancels_what_waits(store: Store) -> None:
    runner = JobRunner(store.jobs, workers=1, max_queued=3, grace_seconds=2)
    release, started = threading.Event(), threading.Event()
    first = runner.submit("train_models", "p0", blocker(release, started), None)
    assert started.wait(5)
    waiting = [runner.submit("train_models", f"p{i}", blocker(release), None) for i in range(1, 4)]
    with pytest.raises(QueueFull) as full:
        runner.submit("train_models", "p4", blocker(release), None)
    assert full.value.status_code == 429 and full.value.retry_after > 0
    assert full.value.details["limit"] == 3
    state = runner.state()
    assert (state.queued, state.running, state.limit, state.full) == (3, 1, 3, True)
    began = time.monotonic()
    runner.shutdown()  # the running job stops at its next progress report; the waiting ones never start
    assert time.monotonic() - began < 2
    assert store.jobs.get(first)["status"] == "cancelled"
    for job_id in waiting:
        job = store.jobs.get(job_id)
        assert job["status"] == "cancelled" and job["started_at"] is None and "shut down" in job["error"]
    with pytest.raises(QueueFull):  # nothing is queued once shutdown began
        runner.submit("train_models", "p5", blocker(release), None)


def test_running_work_that_ignores_the_stop_is_recorded_cancelled_after_the_grace(store: Store) -> None:
    runner = JobRunner(store.jobs, workers=1, grace_seconds=0.3)
    release, started = threading.Event(), threading.Event()

    def stubborn(progress: Progress) -> dict:  # never reports progress, so never sees the stop
        started.set()
        release.wait(10)
        return {}

    job_id = runner.submit("batch_analysis", None, stubborn)
    assert started.wait(5)
    began = time.monotonic()
    runner.shutdown()
    assert time.monotonic() - began < 1.5
    job = store.jobs.get(job_id)
    assert job["status"] == "cancelled" and "still running" in job["error"]
    release.set()
    time.sleep(0.1)
    assert store.jobs.get(job_id)["status"] == "cancelled"  # its late end does not overwrite that


def test_train_twice_answers_the_same_job_and_a_full_queue_is_429(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'a.db'}", job_queue_limit=1, job_shutdown_grace_seconds=1
    )
    service = AnalyticsService(settings)
    service.start(background=False)
    try:
        release = threading.Event()
        for _ in range(service.jobs.workers):  # every worker busy: what is submitted next waits
            started = threading.Event()
            service.jobs.submit("batch_analysis", None, blocker(release, started))
            assert started.wait(5)
        for pid in ("a", "b"):
            service.store.plugins.upsert({"plugin_id": pid})
        live = LiveServer(service).start()
        base = live.url + "/api/plugin-ai-analytics"
        with httpx.Client(timeout=30, headers=AUTH) as client:
            first = client.post(f"{base}/train-models/a")
            assert first.status_code == 202 and first.json()["existing"] is False
            again = client.post(f"{base}/train-models/a")
            assert again.status_code == 200
            assert again.json() == {**first.json(), "existing": True}
            full = client.post(f"{base}/train-models/b")
            assert full.status_code == 429 and full.headers["retry-after"] == "30"
            assert full.json()["error"] == "queue_full" and "AI_ANALYTICS_JOB_QUEUE_LIMIT" in full.json()["message"]
        live.stop()
        release.set()
    finally:
        service.close()


def test_predict_serves_the_stored_forecast_with_its_age_once_models_are_gone(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'jobs.db'}")
    stored(store, "shop", synthetic_plugin(3, end=recent_end(0)))
    forecasts = forecasts_of(store, settings)
    forecasts.train_now("shop")
    made = forecasts.predict("shop")
    assert made.stored_only is False
    with store.engine.begin() as conn:  # the models are gone (deleted, refused): no new forecast can be made
        conn.exec_driver_sql("DELETE FROM models")
    served = forecasts_of(store, settings).predict("shop")
    assert served.stored_only is True and served.made_at == made.made_at
    assert served.metrics.keys() == made.metrics.keys()


def test_predict_on_an_untrained_plugin_is_a_409_saying_what_to_do(api: httpx.Client) -> None:
    push(api, "fresh", synthetic_plugin(0.1))
    r = api.get("/predict/fresh")
    assert r.status_code == 409 and r.json()["error"] == "not_trained"
    assert r.json()["training"] is False and "train-models/fresh" in r.json()["message"]
    assert r.json()["samples"] == len(synthetic_plugin(0.1)) and r.json()["needed_hours"] > 0
    assert api.get("/jobs").json()["jobs"] == []  # and nothing was trained or queued by the read


def test_jobs_a_killed_service_left_unfinished_are_recorded_failed_at_the_next_start(tmp_path: Path) -> None:
    """Embedded mode owns the only job queue: a job still queued or running when the service
    starts belonged to a process that died (kill -9) and will never finish."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    before = Store(url)
    queued = before.jobs.create("train", "a")
    running = before.jobs.create("batch_analysis", None)
    before.jobs.update(running, status="running", started_at=1)
    done = before.jobs.create("train", "b")
    before.jobs.update(done, status="succeeded", finished_at=2)
    before.close()  # the "killed" process: it never recorded an end
    service = AnalyticsService(make_settings(tmp_path, url, scheduler_enabled=False))
    service.start()
    try:
        for job_id in (queued, running):
            job = service.store.jobs.get(job_id)
            assert job["status"] == "failed" and job["finished_at"] is not None
            assert job["error"].startswith("interrupted: the service stopped")
        assert service.store.jobs.get(done)["status"] == "succeeded"
        assert service.store.jobs.active("train") == []
    finally:
        service.close()
