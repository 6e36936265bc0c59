"""The pieces of the scaled-out mode that need no worker process: a batch part delivered again,
detection shared by two processes' worth of parts, and the settings that select the mode."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from plugin_ai_analytics.anomaly import PluginDetector
from plugin_ai_analytics.config import load_settings
from plugin_ai_analytics.errors import ValidationError
from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.service.batch import Analysts
from plugin_ai_analytics.service.detection import Detection
from plugin_ai_analytics.service.ingest import Ingest
from plugin_ai_analytics.service.tasks import analyse_part
from plugin_ai_analytics.store import Store

from ..conftest import make_settings
from .conftest import recent_end, stored, synthetic_plugin, with_incident

pytestmark = pytest.mark.postgres


def test_a_redelivered_part_goes_on_from_its_committed_steps_and_stores_one_result(
    postgres_url: str, tmp_path: Path
) -> None:
    store = Store(postgres_url)
    try:
        stored(store, "shop", synthetic_plugin(2, end=recent_end(0)))
        settings = make_settings(tmp_path, postgres_url, executor="celery")
        analysts = Analysts.open(settings, store)
        job_id = store.jobs.create("batch_analysis", None, {"plugins": 1, "analyses": ["detect", "suggest"]})
        params = {"analyses": ["detect", "suggest"]}
        # the first delivery committed "detect" and died before "suggest" (kill -9)
        store.batch_parts.begin(job_id, "shop", "w1@host:1")
        store.batch_parts.step_done(job_id, "shop", ["detect"], {"anomaly_status": "as the first delivery left it"})

        result = analyse_part(analysts, store, job_id, "shop", params, "w2@host:2")
        assert result["ok"] and result["worker"] == "w2@host:2"
        assert result["anomaly_status"] == "as the first delivery left it"  # detect was not redone
        assert "suggestions" in result
        job = store.jobs.get(job_id)
        assert job["status"] == "succeeded"
        assert job["result"]["parts_by_worker"] == {"w2@host:2": 1}
        assert job["result"]["redelivered"] == 1
        findings = store.suggestions.find("shop", limit=1000)

        # delivered a third time (the acknowledgement was lost): the stored result, nothing rerun
        again = analyse_part(analysts, store, job_id, "shop", params, "w1@host:3")
        assert again == result
        assert store.batch_parts.results(job_id)[0]["worker"] == "w2@host:2"
        assert len(store.suggestions.find("shop", limit=1000)) == len(findings)
        assert store.jobs.get(job_id)["result"] == job["result"]
    finally:
        store.close()


def _replica(database_url: str, tmp_path: Path) -> tuple[Store, Ingest]:
    """What one API process holds for ingestion: its own engine, detectors and lock."""
    store = Store(database_url)
    detection = Detection(
        metrics=store.metrics,
        anomalies=store.anomalies,
        states=store.detector_states,
        plugins=store.plugins,
        sensitivity=0.1,
        shared_lock=lambda plugin_id: store.plugin_lock("detect", plugin_id),
    )
    settings = make_settings(tmp_path, database_url)
    return store, Ingest(
        settings=settings,
        metrics=store.metrics,
        rejections=store.rejections,
        plugins=store.plugins,
        detection=detection,
    )


def test_two_replicas_each_holding_a_detector_score_alternate_pushes_as_one_process(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = with_incident(synthetic_plugin(3, end=recent_end(0)), at=-30, length=8)
    history, fresh = samples[:-48], samples[-48:]
    first, a = _replica(postgres_url, tmp_path / "a")
    second, b = _replica(postgres_url, tmp_path / "b")
    alone_store = Store(f"sqlite:///{tmp_path / 'alone.db'}")
    alone = Detection(
        metrics=alone_store.metrics,
        anomalies=alone_store.anomalies,
        states=alone_store.detector_states,
        plugins=alone_store.plugins,
        sensitivity=0.1,
    )
    one = Ingest(
        settings=make_settings(tmp_path / "c"),
        metrics=alone_store.metrics,
        rejections=alone_store.rejections,
        plugins=alone_store.plugins,
        detection=alone,
    )
    try:
        a.samples("shop", history)
        one.samples("shop", history)
        a._detection.detect_now("shop")
        alone.detect_now("shop")
        b._detection.detect_now("shop")  # both replicas now hold a copy of the detector
        # every sample the replicas score, counted (the detectors run unchanged)
        scored: Counter = Counter()
        update_many = PluginDetector.update_many

        def counted(self, timestamps, *args, **kwargs):
            scored.update(timestamps)
            return update_many(self, timestamps, *args, **kwargs)

        monkeypatch.setattr(PluginDetector, "update_many", counted)
        for i in range(0, len(fresh), 4):
            verdict = (a if i % 8 else b).samples("shop", fresh[i : i + 4]).detection
            assert verdict is not None  # scored in the request, by whichever replica took it
        monkeypatch.undo()
        # once each: a replica holding an older copy re-reads the state instead of catching up
        assert len(scored) == len(fresh) and set(scored.values()) == {1}
        for i in range(0, len(fresh), 4):
            one.samples("shop", fresh[i : i + 4])
        replicated = first.anomalies.find("shop", limit=1000)
        single = alone_store.anomalies.find("shop", limit=1000)
        keys = ("event_id", "start_ts", "end_ts", "severity", "state", "metrics")
        assert [tuple(e[k] for k in keys) for e in replicated] == [tuple(e[k] for k in keys) for e in single]
        assert any(e["severity"] in ("High", "Medium") for e in single)
    finally:
        for store in (first, second, alone_store):
            store.close()


def test_the_executor_setting_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="^invalid setting AI_ANALYTICS_EXECUTOR: .*inprocess or celery"):
        load_settings(AI_ANALYTICS_EXECUTOR="threads")
    with pytest.raises(ValidationError, match="AI_ANALYTICS_BROKER_URL"):
        load_settings(AI_ANALYTICS_BROKER_URL="http://redis:6379")
    with pytest.raises(ValidationError, match="AI_ANALYTICS_EXECUTOR=celery needs PostgreSQL"):
        AnalyticsService(make_settings(tmp_path, executor="celery"))
    assert make_settings(tmp_path, executor="celery").effective_replicated
    assert not make_settings(tmp_path).effective_replicated
