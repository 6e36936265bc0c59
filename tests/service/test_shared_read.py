"""Batch analysis reads a plugin's window once and hands it to detection: the events and the
detector's state are exactly those of detection reading the store itself, cold (a new detector
learning its backlog) and warm (a saved detector scoring what came since), and the warm pass
reads no samples of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin_ai_analytics.service.detection import WARM_FROM_SAMPLES
from plugin_ai_analytics.store import Store

from .conftest import detection_of, history_of, recent_end, stored, synthetic_plugin, with_incident
from .test_detection import events_of, sample_reads, statements


@pytest.mark.slow
def test_detection_from_the_shared_window_equals_reading_the_store(tmp_path: Path) -> None:
    samples = synthetic_plugin(16, end=recent_end(0.5))
    past, new = samples[:-12], with_incident(samples[-12:], 4)
    assert len(past) > WARM_FROM_SAMPLES  # the cold pass learns a backlog
    stores = [Store(f"sqlite:///{tmp_path / name}.db") for name in ("own", "shared")]
    try:
        for store in stores:
            stored(store, "p", past)
        own, shared = (detection_of(s) for s in stores)
        history = history_of(stores[1])

        own.detect_now("p")
        shared.detect_now("p", history.window("p"))
        assert events_of(own, "p") == events_of(shared, "p")
        for detection in (own, shared):
            detection.flush_states()
            detection.forget("p")

        for store in stores:
            stored(store, "p", new)
        window = history.window("p")
        with statements(stores[1].engine) as seen:
            warm = shared.detect_now("p", window)
        assert sample_reads(seen) == []  # the window was enough
        mine = own.detect_now("p")
        assert (
            (warm.scored_now, warm.status, warm.score)
            == (mine.scored_now, mine.status, mine.score)
            == (
                12,
                "anomalous",
                mine.score,
            )
        )
        assert events_of(own, "p") == events_of(shared, "p")
        assert own._detector("p").to_state() == shared._detector("p").to_state()
    finally:
        for store in stores:
            store.close()
