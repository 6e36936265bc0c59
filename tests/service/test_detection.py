"""Detection: one streaming detector per plugin, fed every stored sample once. A small push to a
loaded detector is scored straight from the batch and gives exactly what reading the same samples
back from the store gives; anything else (a large push, a detector not loaded, a push that missed
another one) is scored from the store, so no sample is skipped or judged twice."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import Engine, event, update

from plugin_ai_analytics.errors import NotFound, ValidationError
from plugin_ai_analytics.schemas import AnomalyEvent, DetectionResult, DetectionVerdict
from plugin_ai_analytics.service.detection import SYNC_BATCH_LIMIT, Detection
from plugin_ai_analytics.store import Store, tables

from .conftest import detection_of, recent_end, stored, synthetic_plugin, with_incident

LIVE = 24


def history_and_live(days: float = 2, live: int = LIVE, incidents: Sequence[int] = (6,)) -> tuple[list, list]:
    """A plugin's past days, then its newest ``live`` samples (up to half an hour ago) with a
    failure at each of ``incidents`` (indexes into the live part)."""
    samples = synthetic_plugin(days, end=recent_end(0.5))
    past, now = samples[:-live], samples[-live:]
    for at in incidents:
        now = with_incident(now, at)
    return past, now


def summary_of(verdicts: list) -> DetectionVerdict | None:
    """What a push's receipt says about the verdicts of its samples."""
    if not verdicts:
        return None
    last = verdicts[-1]
    return DetectionVerdict(
        score=last.score,
        anomalous=any(v.anomalous for v in verdicts),
        alerts=[v.event.event_id for v in verdicts if v.alert],
        open_event=last.event.event_id if last.event is not None and last.event.is_open else None,
        warming_up=last.warming_up,
        message=last.message,
    )


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs meanwhile."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def sample_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if "FROM metrics" in s and "cpu_percent" in s]


def events_of(detection: Detection, plugin_id: str) -> list[dict]:
    return [e.model_dump(exclude={"updated_at"}) for e in detection.history(plugin_id)]


def twins(store: Store, past: list[dict]) -> tuple[Detection, Detection]:
    """Two detectors up to date with the same past: ``direct`` (plugin "direct") is fed pushes
    with ``on_stored``; ``reread`` (plugin "reread", an identical copy) reads them back with ``process``."""
    direct, reread = detection_of(store), detection_of(store)
    for plugin_id, detection in (("direct", direct), ("reread", reread)):
        stored(store, plugin_id, past)
        detection.process(plugin_id)
    return direct, reread


def test_a_small_push_is_scored_from_the_batch_exactly_as_from_the_store(store: Store) -> None:
    past, live = history_and_live()
    direct, reread = twins(store, past)
    receipts = []
    with statements(store.engine) as seen:
        for sample in live:
            rows = stored(store, "direct", [sample])
            seen.clear()
            got = direct.on_stored("direct", rows)
            assert sample_reads(seen) == []  # scored from the batch, not read back
            stored(store, "reread", [sample])
            assert got == summary_of(reread.process("reread"))
            receipts.append(got)
    assert all(r is not None and not r.warming_up for r in receipts)
    assert sum(len(r.alerts) for r in receipts) == 1  # the failure is one incident, alerted once
    assert events_of(direct, "direct") == events_of(reread, "reread") != []
    direct.flush_states()
    reread.flush_states()
    assert store.detector_states.load("direct") == store.detector_states.load("reread")


def test_a_push_that_finds_an_unscored_sample_before_it_reads_from_the_store(store: Store) -> None:
    past, live = history_and_live()
    direct, reread = twins(store, past)
    first = stored(store, "direct", live[:1])  # stored, but its on_stored has not run yet
    second = stored(store, "direct", live[1:2])
    got = direct.on_stored("direct", second)
    stored(store, "reread", live[:2])
    assert got == summary_of(reread.process("reread"))
    assert direct.detect_now("direct").samples_seen == len(past) + 2
    # the late call of the first push finds nothing left to judge
    assert direct.on_stored("direct", first) is None
    assert direct.detect_now("direct").samples_seen == len(past) + 2


def test_a_push_interleaved_with_another_batch_skips_no_sample(store: Store) -> None:
    past, live = history_and_live()
    direct, reread = twins(store, past)
    # Two clients push at once: one the samples at t0 and t2, the other the one at t1; both
    # commit before the first one's batch is scored.
    both_ends = stored(store, "direct", [live[0], live[2]])
    middle = stored(store, "direct", [live[1]])
    got = direct.on_stored("direct", both_ends)
    stored(store, "reread", live[:3])
    assert got == summary_of(reread.process("reread"))
    assert direct.on_stored("direct", middle) is None
    assert direct.detect_now("direct").samples_seen == reread.detect_now("reread").samples_seen == len(past) + 3
    direct.flush_states()
    reread.flush_states()
    assert store.detector_states.load("direct") == store.detector_states.load("reread")


def test_a_large_push_or_an_unloaded_detector_is_left_to_the_store_read(sqlite_store: Store) -> None:
    past, live = history_and_live(live=SYNC_BATCH_LIMIT + 2)
    detection = detection_of(sqlite_store)
    rows = stored(sqlite_store, "shop", past)
    assert detection.on_stored("shop", rows[-1:]) is None  # no detector loaded: nothing scored here
    assert detection.loaded_count == 0
    detection.process("shop")

    large = stored(sqlite_store, "shop", live[: SYNC_BATCH_LIMIT + 1])
    assert detection.on_stored("shop", large) is None  # too large for the request
    # the next small push finds the large one pending and scores both from the store
    small = stored(sqlite_store, "shop", live[SYNC_BATCH_LIMIT + 1 :])
    receipt = detection.on_stored("shop", small)
    assert receipt is not None and receipt.alerts != []  # the failure in the large push is judged
    status = detection.detect_now("shop")
    assert (status.samples_seen, status.scored_now) == (len(past) + len(live), 0)


def test_the_background_worker_scores_a_large_push_and_saves_the_state_on_stop(sqlite_store: Store) -> None:
    past, live = history_and_live(live=SYNC_BATCH_LIMIT + 1)
    detection = detection_of(sqlite_store)
    stored(sqlite_store, "shop", past)
    detection.process("shop")
    passes = len(detection.scoring_times_ms())
    detection.start()
    try:
        assert detection.on_stored("shop", stored(sqlite_store, "shop", live)) is None
        deadline = time.monotonic() + 20
        while len(detection.scoring_times_ms()) == passes and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        detection.stop()
    resumed = detection_of(sqlite_store).detect_now("shop")  # a new process, from the saved state
    assert (resumed.samples_seen, resumed.scored_now) == (len(past) + len(live), 0)


def test_a_new_plugin_is_warming_up_with_the_samples_it_still_needs(sqlite_store: Store) -> None:
    samples = synthetic_plugin(100 / 288, end=recent_end(1))  # 100 samples
    stored(sqlite_store, "fresh", samples)
    status = detection_of(sqlite_store).detect_now("fresh")
    assert isinstance(status, DetectionResult)
    assert status.status == "warming up: need 50 more samples"
    assert (status.samples_seen, status.scored_now, status.open_anomalies) == (100, 100, [])
    assert datetime.fromisoformat(status.last_sample) == datetime.fromisoformat(samples[-1]["timestamp"])


def test_a_backlog_is_learnt_and_only_its_newest_day_is_scored(sqlite_store: Store) -> None:
    samples = synthetic_plugin(3, end=recent_end(1))
    stored(sqlite_store, "imported", samples)
    status = detection_of(sqlite_store).detect_now("imported")
    assert (status.status, status.samples_seen, status.scored_now) == ("normal", 3 * 288, 288)
    assert 0 <= status.score <= 1 and set(status.metric_scores) >= {"cpu_percent", "error_rate"}


def test_an_unknown_plugin_is_not_found(sqlite_store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        detection_of(sqlite_store).detect_now("ghost")
    assert caught.value.message == "plugin 'ghost' is not registered and has sent no metrics"


def test_an_incident_is_one_event_with_evidence_severity_and_actions(sqlite_store: Store) -> None:
    past, live = history_and_live()
    detection = detection_of(sqlite_store)
    stored(sqlite_store, "shop", past)
    detection.process("shop")
    stored(sqlite_store, "shop", live)
    status = detection.detect_now("shop")
    assert status.scored_now == LIVE
    (incident,) = [e for e in detection.history("shop") if "error_rate" in e.metrics]
    assert isinstance(incident, AnomalyEvent)
    assert {"error_rate", "response_time_ms"} <= set(incident.metrics) and incident.severity == "High"
    assert incident.evidence["error_rate"].observed == pytest.approx(0.35)
    assert incident.evidence["error_rate"].upper < 0.35
    assert incident.recommended_actions and incident.explanation and incident.feedback is None
    assert incident.start == live[6]["timestamp"].replace("+00:00", "Z")


def test_history_filters_by_state_and_severity_and_names_a_bad_filter(sqlite_store: Store) -> None:
    past, live = history_and_live()
    detection = detection_of(sqlite_store)
    stored(sqlite_store, "shop", past + live)
    detection.detect_now("shop")
    everything = detection.history("shop")
    assert everything != []
    assert [e.start for e in everything] == sorted((e.start for e in everything), reverse=True)  # newest first
    for severity in ("High", "Medium", "Low"):
        assert detection.history("shop", severity=severity) == [e for e in everything if e.severity == severity]
    for state in ("open", "closed", "suppressed"):
        assert detection.history("shop", state=state) == [e for e in everything if e.state == state]
    assert detection.history("shop", limit=1) == everything[:1]
    assert detection.history("shop", limit=1, offset=1) == everything[1:2]
    newest = everything[0]
    after = int(datetime.fromisoformat(newest.start.replace("Z", "+00:00")).timestamp() * 1000)
    assert detection.history("shop", end_ms=after) == everything[1:]  # started before the end only

    for query, field, message in [
        ({"severity": "Critical"}, "severity", "severity must be High, Medium or Low"),
        ({"state": "gone"}, "state", "state must be open, closed or suppressed"),
        ({"limit": 0}, "limit", "limit must be between 1 and 1000"),
        ({"limit": 1001}, "limit", "limit must be between 1 and 1000"),
    ]:
        with pytest.raises(ValidationError) as caught:
            detection.history("shop", **query)
        assert (caught.value.field, caught.value.message) == (field, message)


def test_an_operators_verdict_is_kept_on_the_event_and_in_the_saved_detector(sqlite_store: Store) -> None:
    past, live = history_and_live()
    detection = detection_of(sqlite_store)
    stored(sqlite_store, "shop", past + live)
    detection.detect_now("shop")
    (incident,) = [e for e in detection.history("shop") if "error_rate" in e.metrics]

    marked = detection.feedback("shop", incident.event_id, "false_alarm")
    assert marked.model_dump(exclude={"feedback", "updated_at"}) == incident.model_dump(
        exclude={"feedback", "updated_at"}
    )
    assert marked.feedback == "false_alarm"
    assert detection.history("shop", state=incident.state)[0].feedback == "false_alarm"
    # saved at once (not at the next periodic flush): a restart still suppresses its shape
    assert len(saved_false_alarms(sqlite_store, "shop")) == 1

    assert detection.feedback("shop", incident.event_id, "confirmed").feedback == "confirmed"
    assert saved_false_alarms(sqlite_store, "shop") == {}  # a real incident of that shape is never hidden


def saved_false_alarms(store: Store, plugin_id: str) -> dict:
    return store.detector_states.load(plugin_id)["feedback"]["false_alarms"]


def test_feedback_names_a_bad_label_and_an_unknown_event(sqlite_store: Store) -> None:
    stored(sqlite_store, "shop", synthetic_plugin(0.1, end=recent_end(1)))
    detection = detection_of(sqlite_store)
    with pytest.raises(ValidationError) as caught:
        detection.feedback("shop", "any", "maybe")
    assert (caught.value.field, caught.value.message) == ("label", "label must be 'false_alarm' or 'confirmed'")
    with pytest.raises(NotFound) as missing:
        detection.feedback("shop", "no-such-event", "confirmed")
    assert missing.value.message == "anomaly 'no-such-event' of plugin 'shop' does not exist"


def test_the_detector_continues_from_its_saved_state_and_a_tampered_state_is_refused(sqlite_store: Store) -> None:
    past, live = history_and_live(live=2, incidents=())
    first = detection_of(sqlite_store)
    stored(sqlite_store, "steady", past)
    assert first.detect_now("steady").samples_seen == len(past)
    first.flush_states()

    stored(sqlite_store, "steady", live[:1])
    second = detection_of(sqlite_store)  # a restart
    status = second.detect_now("steady")
    assert (status.samples_seen, status.scored_now) == (len(past) + 1, 1)  # continued, not re-learnt
    second.forget("steady")
    assert second.loaded_count == 0

    with sqlite_store.engine.begin() as conn:
        conn.execute(update(tables.detector_states).values(checksum="0" * 64))
    stored(sqlite_store, "steady", live[1:])
    third = detection_of(sqlite_store)
    status = third.detect_now("steady")
    # the saved state fails its checksum: a fresh detector learns everything stored again
    assert status.samples_seen == len(past) + 2 and status.status == "normal"
