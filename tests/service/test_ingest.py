"""Ingest: every way samples come in is validated whole, stored atomically (a re-sent sample is
merged, not duplicated), handed to real-time detection, and a refused batch stores nothing and
leaves a rejection on record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plugin_ai_analytics.config import Settings
from plugin_ai_analytics.domain import METRIC_NAMES
from plugin_ai_analytics.errors import PayloadTooLarge, ValidationError
from plugin_ai_analytics.schemas import DetectionVerdict, IngestResult
from plugin_ai_analytics.service.detection import SYNC_BATCH_LIMIT, Detection
from plugin_ai_analytics.service.ingest import Ingest
from plugin_ai_analytics.store import Store

from ..conftest import make_settings
from .conftest import detection_of, recent_end, stored, synthetic_plugin

# Recent, so retention (30 days) keeps every sample and no warning is expected.
START = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)


def ingest_of(store: Store, settings: Settings, detection: Detection | None = None) -> Ingest:
    return Ingest(
        settings=settings,
        metrics=store.metrics,
        rejections=store.rejections,
        plugins=store.plugins,
        detection=detection or detection_of(store),
    )


def sample(i: int, **values: float) -> dict:
    return {"timestamp": (START + timedelta(minutes=i)).isoformat(), **values}


def test_a_pushed_batch_is_stored_and_acknowledged(store: Store, settings: Settings) -> None:
    body = json.dumps({"samples": [sample(0, cpu_percent=12.5, request_count=40), sample(1, memory_mb=256.0)]})
    result = ingest_of(store, settings).push("shop", body)
    assert result == IngestResult(
        plugin_id="shop",
        received=2,
        stored=2,
        first=START.isoformat().replace("+00:00", "Z"),
        last=(START + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
        detection=None,  # no detector loaded yet: the background worker scores it
        note=None,
    )
    ts = int(START.timestamp() * 1000)
    blank = dict.fromkeys(METRIC_NAMES)
    assert store.metrics.rows("shop") == [
        (ts, *{**blank, "cpu_percent": 12.5, "request_count": 40}.values()),
        (ts + 60_000, *{**blank, "memory_mb": 256.0}.values()),
    ]
    # first sight registers the plugin as push-only
    plugin = store.plugins.get("shop")
    assert (plugin["name"], plugin["source"], plugin["interval_seconds"]) == ("shop", None, 60.0)


def test_a_bare_list_and_decoded_samples_are_the_same_batch(sqlite_store: Store, settings: Settings) -> None:
    ingest = ingest_of(sqlite_store, settings)
    ingest.push("listed", json.dumps([sample(0, cpu_percent=3.0)]).encode())
    # the Python API hands over datetimes and epoch seconds
    ingest.samples("decoded", [{"timestamp": START, "cpu_percent": 3.0}])
    ingest.samples("epoch", [{"timestamp": START.timestamp(), "cpu_percent": 3.0}])
    assert (
        sqlite_store.metrics.rows("listed")
        == sqlite_store.metrics.rows("decoded")
        == sqlite_store.metrics.rows("epoch")
    )


def test_resending_is_idempotent_and_partial_samples_of_one_instant_merge(store: Store, settings: Settings) -> None:
    ingest = ingest_of(store, settings)
    batch = [sample(i, cpu_percent=float(i), memory_mb=100.0 + i) for i in range(30)]
    first = ingest.samples("p1", batch)
    assert (first.stored, first.merged) == (30, 0)
    again = ingest.samples("p1", batch)  # issue 10 #15: a re-send reported stored: 30 again
    assert (again.stored, again.merged) == (0, 30)
    assert store.metrics.extent("p1")["samples"] == 30

    ingest.samples("p2", [sample(0, cpu_percent=5.0)])
    ingest.samples("p2", [sample(0, memory_mb=64.0)])
    (row,) = store.metrics.rows("p2")
    assert (row[1], row[2]) == (5.0, 64.0)

    # the same instant twice in one batch: later values win, gaps keep the earlier ones
    result = ingest.samples("p3", [sample(0, cpu_percent=1.0, memory_mb=10.0), sample(0, cpu_percent=2.0)])
    assert (result.received, result.stored) == (2, 1)
    (row,) = store.metrics.rows("p3")
    assert (row[1], row[2]) == (2.0, 10.0)


REFUSED = [
    ("not json", "{samples: oops", "body"),
    ("empty", '{"samples": []}', "samples"),
    ("error rate above 1", [sample(0, cpu_percent=1.0), sample(1, error_rate=1.5)], "samples[1].error_rate"),
    ("nan", '{"samples": [{"timestamp": "2025-03-01T00:00:00Z", "cpu_percent": NaN}]}', "samples[0].cpu_percent"),
    ("unknown field", [sample(0, cpu=3.0)], "samples[0].cpu"),
    ("no values", [sample(0)], "samples[0]"),
    ("cpu above 4096 cores", [sample(0, cpu_percent=409_601.0)], "samples[0].cpu_percent"),
    ("another plugin", [{**sample(0, cpu_percent=1.0), "plugin_id": "other"}], "samples[0].plugin_id"),
    (
        "future",
        [{"timestamp": (datetime.now(UTC) + timedelta(hours=1)).isoformat(), "cpu_percent": 1.0}],
        "samples[0].timestamp",
    ),
]


@pytest.mark.parametrize(("case", "body", "field"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_refused_batch_names_the_field_stores_nothing_and_is_on_record(
    sqlite_store: Store, settings: Settings, case: str, body: str | list, field: str
) -> None:
    ingest = ingest_of(sqlite_store, settings)
    with pytest.raises(ValidationError) as caught:
        ingest.push("guarded", body if isinstance(body, str) else json.dumps(body))
    assert caught.value.field == field
    assert sqlite_store.metrics.extent("guarded")["samples"] == 0
    assert sqlite_store.plugins.get("guarded") is None  # a refused batch registers nothing either
    assert sqlite_store.rejections.counts() == {"guarded": 1}


def test_a_refused_value_says_what_is_wrong(sqlite_store: Store, settings: Settings) -> None:
    ingest = ingest_of(sqlite_store, settings)
    with pytest.raises(ValidationError) as caught:
        ingest.samples("guarded", [sample(0, cpu_percent=409_601.0)])
    assert caught.value.message == "samples[0].cpu_percent: Input should be less than or equal to 409600"
    with pytest.raises(ValidationError) as caught:
        ingest.samples("guarded", [])
    assert (caught.value.field, caught.value.message) == ("samples", "samples: batch is empty")
    assert sqlite_store.rejections.counts(since_ms=0) == {"guarded": 2}


def test_a_batch_over_the_limit_is_too_large_whichever_way_it_comes(tmp_path: Path, sqlite_store: Store) -> None:
    ingest = ingest_of(sqlite_store, make_settings(tmp_path, max_batch_samples=50))
    batch = [sample(i, cpu_percent=1.0) for i in range(51)]
    with pytest.raises(PayloadTooLarge) as pushed:
        ingest.push("big", json.dumps(batch))
    assert (pushed.value.details["field"], pushed.value.message) == (
        "samples",
        "samples: batch of 51 exceeds the limit of 50 per request",
    )
    with pytest.raises(PayloadTooLarge) as handed:
        ingest.samples("big", batch)
    assert (handed.value.details["field"], handed.value.message) == (
        "samples",
        "samples: batch of 51 exceeds the limit of 50",
    )
    assert ingest.samples("big", batch[:50]).stored == 50
    assert sqlite_store.metrics.extent("big")["samples"] == 50
    assert sqlite_store.rejections.counts() == {"big": 2}


def test_a_bad_plugin_id_is_refused_before_anything_is_recorded(sqlite_store: Store, settings: Settings) -> None:
    with pytest.raises(ValidationError) as caught:
        ingest_of(sqlite_store, settings).samples("-bad$id", [sample(0, cpu_percent=1.0)])
    assert caught.value.field == "plugin_id"
    assert sqlite_store.rejections.counts() == {}


def test_a_small_push_to_a_watched_plugin_carries_the_detectors_verdict(
    sqlite_store: Store, settings: Settings
) -> None:
    samples = synthetic_plugin(1, end=recent_end(1))
    stored(sqlite_store, "shop", samples[: -(SYNC_BATCH_LIMIT + 2)])
    detection = detection_of(sqlite_store)
    detection.process("shop")  # the detector is loaded and up to date
    ingest = ingest_of(sqlite_store, settings, detection)

    small = ingest.samples("shop", samples[-(SYNC_BATCH_LIMIT + 2) : -(SYNC_BATCH_LIMIT + 1)])
    assert isinstance(small.detection, DetectionVerdict)
    assert small.detection.warming_up is False and small.detection.alerts == []
    # too large to score inside the request: handed to the background worker
    large = ingest.samples("shop", samples[-(SYNC_BATCH_LIMIT + 1) :])
    assert (large.stored, large.detection) == (SYNC_BATCH_LIMIT + 1, None)


def test_a_history_file_is_imported_in_atomic_chunks(sqlite_store: Store, settings: Settings) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range(START, periods=5, freq="5min"),
            "cpu_percent": [1.0, np.nan, 3.0, 4.0, 5.0],
            "memory_mb": [10.0, np.nan, 30.0, 40.0, 50.0],
            "request_count": np.array([7, 8, 9, 10, 11]),
            "owner": ["ops"] * 5,  # not a metric: ignored
        }
    )
    seen: list[int] = []
    result = ingest_of(sqlite_store, settings).history_file("imported", frame, chunk=2, progress=seen.append)
    assert result == {
        "plugin_id": "imported",
        "rows": 5,
        "stored": 5,
        "metrics": ["cpu_percent", "memory_mb", "request_count"],
    }
    assert seen == [2, 4, 5]
    rows = sqlite_store.metrics.rows("imported")
    assert [(r[1], r[2], r[6]) for r in rows] == [
        (1.0, 10.0, 7),
        (None, None, 8),
        (3.0, 30.0, 9),
        (4.0, 40.0, 10),
        (5.0, 50.0, 11),
    ]


def test_an_import_stops_at_the_first_bad_chunk_and_says_what_was_kept(sqlite_store: Store, settings: Settings) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range(START, periods=5, freq="5min"),
            "error_rate": [0.1, 0.2, 0.3, 1.7, 0.5],  # row 3 is not a rate
            "memory_mb": [np.nan, np.nan, np.nan, np.nan, np.nan],
        }
    )
    with pytest.raises(ValidationError) as caught:
        ingest_of(sqlite_store, settings).history_file("imported", frame, chunk=2)
    assert caught.value.field == "samples[1].error_rate"
    assert caught.value.message.startswith("rows 2-3: samples[1].error_rate: ")
    assert caught.value.message.endswith("(2 earlier rows were stored)")
    assert [r[5] for r in sqlite_store.metrics.rows("imported")] == [0.1, 0.2]
