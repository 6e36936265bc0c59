"""Predict after a new sample reads only the rows newer than the window it kept, and forecasts
exactly what a fresh read of the whole window forecasts: after new samples, after a re-send that
changed stored samples, and after samples were deleted."""

from __future__ import annotations

from pathlib import Path

from plugin_ai_analytics.config import Settings
from plugin_ai_analytics.store import Store

from .conftest import forecasts_of, recent_end, stored, synthetic_plugin
from .test_detection import sample_reads, statements

DAYS = 2.5


def values(forecast) -> dict:
    return {m: [p["value"] for p in f.forecast] for m, f in forecast.metrics.items()}


def test_incremental_window_forecasts_like_a_fresh_read(tmp_path: Path, settings: Settings) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        samples = synthetic_plugin(DAYS + 0.1, end=recent_end(0))
        history, later = samples[:-30], samples[-30:]
        stored(store, "p", history)
        kept = forecasts_of(store, settings)
        kept.train_now("p")

        stored(store, "p", later[:1])
        with statements(store.engine) as seen:
            after_one = kept.predict("p")
        reads = sample_reads(seen)
        assert len(reads) == 1 and "ts >=" in reads[0]  # only what is newer than the kept window
        assert values(after_one) == values(forecasts_of(store, settings).predict("p"))

        # a re-send through this process changes a stored sample: the window is read whole again
        changed = {**history[-5], "cpu_percent": history[-5]["cpu_percent"] + 40}
        stored(store, "p", [changed, *later[1:3]])
        assert values(kept.predict("p")) == values(forecasts_of(store, settings).predict("p"))

        # samples deleted (retention, another process): the count tells, the window is read again
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM metrics WHERE plugin_id = 'p' AND ts = (SELECT max(ts) FROM metrics)")
        stored(store, "p", later[3:5])
        assert values(kept.predict("p")) == values(forecasts_of(store, settings).predict("p"))
    finally:
        store.close()
