"""A detector state saved by an earlier release loads, scores and saves exactly as it did then.

``data/detector_state_v3.json`` was written by the code before anomaly/plugin.py was split
(commit bc68986): a two-metric detector past warm-up with a fitted forest, an event and operator
feedback, the verdicts that code gave on the next samples, and a digest of its state after them.
Regenerate only on a deliberate state change (``python tests/anomaly/test_saved_state.py``),
never to make this test pass.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from plugin_ai_analytics.anomaly import PluginDetector, Verdict

FIXTURE = Path(__file__).with_name("data") / "detector_state_v3.json"
START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)
SAVED_AT = 440  # samples learnt before the state was saved (the forest is fitted at 406)
AFTER = 140  # samples scored after it


def sample(i: int, rng: np.random.Generator) -> dict[str, float | None]:
    """Two metrics with a daily cycle, a CPU incident before the save and a latency one after."""
    day = np.sin(2 * np.pi * (i % 288) / 288)
    cpu = 30 + 10 * day + rng.normal(0, 1.0)
    latency = 80 + 5 * day + rng.normal(0, 2.0)
    if 420 <= i < 432:
        cpu += 40
    if 500 <= i < 520:
        latency *= 3
    return {"cpu_percent": cpu, "response_time_ms": None if i % 97 == 0 else latency}


def samples() -> list[tuple[datetime, dict[str, float | None]]]:
    rng = np.random.default_rng(7)
    return [(START + i * STEP, sample(i, rng)) for i in range(SAVED_AT + AFTER)]


def summary(v: Verdict) -> list[Any]:
    event = v.event
    return [
        v.score,
        v.incident_score,
        v.anomalous,
        v.alert,
        v.closed,
        None if event is None else event.event_id,
        None if event is None else event.severity.value,
        None if event is None else event.peak_score,
    ]


def digest(state: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()


def make_fixture() -> dict[str, Any]:
    det = PluginDetector()
    stream = samples()
    for ts, values in stream[:SAVED_AT]:
        det.update(ts, values)
    assert det.event is not None
    det.record_feedback(det.event.shape, "false_alarm")  # the state carries operator feedback too
    # A copy: to_state() hands out some live lists (the forest's rows) that later samples change.
    state = json.loads(json.dumps(det.to_state()))
    verdicts = [summary(det.update(ts, values)) for ts, values in stream[SAVED_AT:]]
    return {"state": state, "verdicts": verdicts, "final_state_sha256": digest(det.to_state())}


def load() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def as_v3(state: dict[str, Any]) -> dict[str, Any]:
    """A version-4 state less what version 4 added (the paging rule's setting and progress, and
    whether the event paged): what the version-3 code would have written."""
    old = {k: v for k, v in state.items() if k not in ("confirm_in_range", "run", "paged")}
    old["version"] = 3
    if old.get("event"):
        old["event"] = {k: v for k, v in old["event"].items() if k != "alerted"}
    return old


def test_saved_state_round_trips_to_the_same_json() -> None:
    saved = load()["state"]
    resumed = PluginDetector.from_state(saved).to_state()
    assert resumed["version"] == 4 and resumed["confirm_in_range"] == 1
    assert json.dumps(as_v3(resumed)) == json.dumps(saved)


def without_diagnosis(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the event's diagnosis as the version-3 code wrote it: the one part of the
    final state whose rule changed on purpose. This plugin sends no request counts, so its
    latency incident is no longer "a regression while load stayed flat" (issue 10 #4)."""
    event = dict(state["event"])
    assert event["diagnosis"]["pattern"] == "latency_rise"
    event["diagnosis"] = V3_DIAGNOSIS
    return {**state, "event": event}


V3_DIAGNOSIS = {
    "pattern": "latency_regression",
    "summary": "Response time rose while load stayed flat.",
    "actions": [
        "Profile the request path (py-spy, a tracing span breakdown) to find the slow step.",
        "Check lock contention, garbage-collection pauses and downstream latency.",
        "Compare with the last deploy: a regression there is the usual cause.",
    ],
}


def test_saved_state_scores_as_the_code_that_saved_it() -> None:
    saved = load()
    det = PluginDetector.from_state(saved["state"])
    verdicts = [summary(det.update(ts, values)) for ts, values in samples()[SAVED_AT:]]
    assert verdicts == saved["verdicts"]
    assert digest(without_diagnosis(as_v3(det.to_state()))) == saved["final_state_sha256"]


def test_saved_state_scores_the_same_through_update_many() -> None:
    saved = load()
    det = PluginDetector.from_state(saved["state"])
    later = samples()[SAVED_AT:]
    columns = {name: [values.get(name) for _, values in later] for name in ("cpu_percent", "response_time_ms")}
    verdicts = [summary(v) for v in det.update_many([ts for ts, _ in later], columns)]
    assert verdicts == saved["verdicts"]
    assert digest(without_diagnosis(as_v3(det.to_state()))) == saved["final_state_sha256"]


if __name__ == "__main__":
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(make_fixture()))
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
