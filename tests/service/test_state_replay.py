"""A detector's state is not saved after every batch: what a restart loses is replayed from the
metrics table, so a process that died between saves ends with the same events, and the same
detector, as one that never stopped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from plugin_ai_analytics.service.detection import STATE_SAVE_SAMPLES
from plugin_ai_analytics.store import Store

from .conftest import detection_of, recent_end, rows_of, stored, synthetic_plugin, with_incident
from .test_detection import events_of

BATCH = 6


@pytest.mark.slow
def test_restart_between_saves_gives_the_same_events_as_no_restart(tmp_path: Path) -> None:
    samples = synthetic_plugin(3, end=recent_end(0.5))
    live_n = 5 * BATCH
    assert live_n < STATE_SAVE_SAMPLES  # nothing is due for saving during the live part
    past, live = samples[:-live_n], with_incident(with_incident(samples[-live_n:], 3, 4), 20, 5)
    stores = {name: Store(f"sqlite:///{tmp_path / name}.db") for name in ("steady", "restarted")}
    try:
        detections = {}
        for name, store in stores.items():
            stored(store, "p", past)
            detections[name] = detection_of(store)
            detections[name].detect_now("p")  # learns the backlog: saved at once
            detections[name].flush_states(force=False)
        saved_after_learning = stores["restarted"].detector_states.load("p")

        for k in range(0, live_n, BATCH):
            batch = live[k : k + BATCH]
            if k == 3 * BATCH:  # the process dies (no flush) and a new one starts on the same store
                detections["restarted"] = detection_of(stores["restarted"])
            for name, store in stores.items():
                rows = rows_of("p", batch)
                store.metrics.insert("p", rows)
                if detections[name].on_stored("p", rows) is None:  # not loaded: scored from the store
                    detections[name].process("p")
                detections[name].flush_states(force=False)

        # the restart really replayed: nothing was saved after the baseline
        assert stores["restarted"].detector_states.load("p") == saved_after_learning
        steady, restarted = events_of(detections["steady"], "p"), events_of(detections["restarted"], "p")
        live_from = datetime.fromisoformat(live[0]["timestamp"])
        assert any(datetime.fromisoformat(e["start"]) >= live_from for e in steady)  # the live incidents
        assert restarted == steady
        assert detections["restarted"]._detector("p").to_state() == detections["steady"]._detector("p").to_state()
    finally:
        for store in stores.values():
            store.close()
