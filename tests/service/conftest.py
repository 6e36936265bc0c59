"""What the service-part tests build on: a real ``Store`` (a SQLite file, or SQLite and a fresh
PostgreSQL database where a part's SQL matters), the parts themselves wired the way the facade
wires them, and real samples (``synthetic_plugin``) turned into stored rows the way ingestion
turns them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plugin_ai_analytics.collect.validate import normalise_samples, validate_samples
from plugin_ai_analytics.config import Settings
from plugin_ai_analytics.jobs.scheduler import Scheduler
from plugin_ai_analytics.service.advice import Advice
from plugin_ai_analytics.service.detection import Detection
from plugin_ai_analytics.service.forecasts import Forecasts
from plugin_ai_analytics.service.health import Health
from plugin_ai_analytics.service.history import History
from plugin_ai_analytics.service.ingest import Ingest
from plugin_ai_analytics.service.sources import Sources
from plugin_ai_analytics.service.tracking import Tracking
from plugin_ai_analytics.store import Store

from ..api.test_forecasts import STEP, synthetic_plugin
from ..conftest import make_settings

__all__ = [
    "STEP",
    "advice_of",
    "detection_of",
    "forecasts_of",
    "history_of",
    "rows_of",
    "stored",
    "synthetic_plugin",
    "tracking_of",
    "with_incident",
]


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on SQLite and on PostgreSQL: for parts whose SQL differs by dialect."""
    opened = Store(database_url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated store in a SQLite file: for parts whose behaviour does not depend on the dialect."""
    opened = Store(f"sqlite:///{tmp_path / 'analytics.db'}")
    yield opened
    opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The defaults (24 h horizon, sensitivity 0.1, 10,000-sample batches) on a 4-core host."""
    return make_settings(tmp_path)


def rows_of(plugin_id: str, samples: Sequence[dict[str, Any]]) -> list[tuple]:
    """Samples as ingestion stores them: validated, normalised ``METRIC_COLUMNS`` tuples."""
    return normalise_samples(
        plugin_id,
        validate_samples(samples),
        now=datetime.now(UTC),
        max_future_skew_seconds=300,
    )


def stored(store: Store, plugin_id: str, samples: Sequence[dict[str, Any]]) -> list[tuple]:
    """Store ``samples`` for ``plugin_id`` (in batches under the ingestion limit); returns the rows."""
    rows = rows_of(plugin_id, samples)
    for begin in range(0, len(rows), 5000):
        store.metrics.insert(plugin_id, rows[begin : begin + 5000])
    return rows


def with_incident(samples: list[dict], at: int, length: int = 6) -> list[dict]:
    """A downstream failure from sample ``at`` on: errors and latency jump, load stays as usual."""
    out = list(samples)
    for i in range(at, at + length):
        out[i] = {**out[i], "error_rate": 0.35, "response_time_ms": out[i]["response_time_ms"] * 8}
    return out


def recent_end(hours_ago: float = 0) -> datetime:
    """A whole minute ``hours_ago`` before now: where a synthetic history ends."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=hours_ago)


def history_of(store: Store) -> History:
    return History(store.metrics, store.plugins)


def detection_of(store: Store, sensitivity: float = 0.1) -> Detection:
    return Detection(
        metrics=store.metrics,
        anomalies=store.anomalies,
        states=store.detector_states,
        plugins=store.plugins,
        sensitivity=sensitivity,
    )


def forecasts_of(store: Store, settings: Settings, *, jobs: Any = None) -> Forecasts:
    return Forecasts(
        settings=settings,
        history=history_of(store),
        metrics=store.metrics,
        models=store.models,
        predictions=store.predictions,
        plugins=store.plugins,
        jobs=jobs,
    )


def tracking_of(store: Store, settings: Settings, forecasts: Forecasts) -> Tracking:
    return Tracking(
        settings=settings,
        metrics=store.metrics,
        models=store.models,
        predictions=store.predictions,
        adaptation=store.interval_adaptation,
        forecasts=forecasts,
    )


def advice_of(store: Store) -> Advice:
    return Advice(history=history_of(store), suggestions=store.suggestions, plugins=store.plugins)


def health_of(store: Store, settings: Settings) -> Health:
    """Health with the parts it reads: sources (their answers) and forecasts (training readiness)."""
    detection = detection_of(store)
    ingest = Ingest(
        settings=settings,
        metrics=store.metrics,
        rejections=store.rejections,
        plugins=store.plugins,
        detection=detection,
    )
    sources = Sources(plugins=store.plugins, scheduler=Scheduler(lambda fn: fn()), ingest=ingest)
    return Health(store=store, settings=settings, sources=sources, forecasts=forecasts_of(store, settings))
