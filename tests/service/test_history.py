"""History: a plugin's samples read back as the API's pages (raw or averaged per bucket in SQL,
a page at a time), and as the frame of its newest days that every analysis reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plugin_ai_analytics.domain import METRIC_NAMES
from plugin_ai_analytics.errors import NotFound, ValidationError
from plugin_ai_analytics.schemas import MetricsPage
from plugin_ai_analytics.store import Store

from .conftest import history_of, stored, synthetic_plugin

START = datetime(2025, 3, 1, tzinfo=UTC)


def minutes(n: int, *, start: datetime = START) -> list[dict]:
    """``n`` one-minute samples whose every value follows from its index."""
    return [
        {
            "timestamp": (start + timedelta(minutes=i)).isoformat(),
            "cpu_percent": 10.0 + i % 7,
            "memory_mb": 200.0 + i,
            "response_time_ms": 20.0 + i % 5,
            "error_rate": 0.01 * (i % 3),
            "request_count": 100 + i % 10,
            "active_users": 5 + i % 4,
        }
        for i in range(n)
    ]


def test_a_page_is_raw_samples_oldest_first_with_iso_times_and_the_next_offset(store: Store) -> None:
    stored(store, "shop", minutes(120))
    history = history_of(store)

    page = history.page("shop", limit=50)
    assert isinstance(page, MetricsPage)
    assert (page.resolution, page.from_, page.to, page.metrics) == ("raw", None, None, list(METRIC_NAMES))
    assert (page.count, page.next_offset) == (50, 50)
    assert page.samples[0] == {
        "timestamp": "2025-03-01T00:00:00Z",
        "cpu_percent": 10.0,
        "memory_mb": 200.0,
        "response_time_ms": 20.0,
        "response_time_p95_ms": None,
        "error_rate": 0.0,
        "request_count": 100,
        "active_users": 5,
    }
    assert page.samples[-1]["timestamp"] == "2025-03-01T00:49:00Z"

    last = history.page("shop", limit=50, offset=100)
    assert (last.count, last.next_offset) == (20, None)
    assert last.samples[-1]["memory_mb"] == 319.0
    # A page that ends exactly at the last sample still offers a next one, which is empty.
    full = history.page("shop", limit=60, offset=60)
    assert (full.count, full.next_offset) == (60, 120)
    assert history.page("shop", offset=120).model_dump()["samples"] == []
    assert history.page("shop", offset=120).next_offset is None


def test_buckets_average_cpu_and_memory_sum_requests_weight_latency_and_keep_the_peak_users(store: Store) -> None:
    sent = minutes(120)  # two hours at one minute
    stored(store, "shop", sent)

    page = history_of(store).page("shop", resolution="1h")
    assert page.resolution == "3600s"
    assert [(row["timestamp"], row["samples"]) for row in page.samples] == [
        ("2025-03-01T00:00:00Z", 60),
        ("2025-03-01T01:00:00Z", 60),
    ]
    for row, hour in zip(page.samples, (sent[:60], sent[60:]), strict=True):
        requests = sum(s["request_count"] for s in hour)
        assert row["cpu_percent"] == pytest.approx(sum(s["cpu_percent"] for s in hour) / 60)
        assert row["memory_mb"] == pytest.approx(sum(s["memory_mb"] for s in hour) / 60)
        assert row["request_count"] == requests
        # an interval with more requests says more about latency and errors
        assert row["response_time_ms"] == pytest.approx(
            sum(s["response_time_ms"] * s["request_count"] for s in hour) / requests
        )
        assert row["error_rate"] == pytest.approx(sum(s["error_rate"] * s["request_count"] for s in hour) / requests)
        assert row["active_users"] == max(s["active_users"] for s in hour)
        assert row["response_time_p95_ms"] is None


def test_without_request_counts_latency_is_a_plain_mean(store: Store) -> None:
    sent = [{k: v for k, v in s.items() if k != "request_count"} for s in minutes(10)]
    stored(store, "quiet", sent)
    (row,) = history_of(store).page("quiet", resolution="10m").samples
    assert row["samples"] == 10 and row["request_count"] is None
    assert row["response_time_ms"] == pytest.approx(sum(s["response_time_ms"] for s in sent) / 10)


def test_a_time_range_is_half_open_and_echoed_back(sqlite_store: Store) -> None:
    stored(sqlite_store, "shop", minutes(120))
    history = history_of(sqlite_store)
    page = history.page("shop", start="2025-03-01T00:30:00Z", end=START + timedelta(hours=1))
    assert (page.from_, page.to) == ("2025-03-01T00:30:00Z", "2025-03-01T01:00:00Z")
    assert page.count == 30
    assert (page.samples[0]["timestamp"], page.samples[-1]["timestamp"]) == (
        "2025-03-01T00:30:00Z",
        "2025-03-01T00:59:00Z",
    )
    # epoch seconds are times too; a naive datetime is UTC
    same = history.page("shop", start=START.timestamp() + 1800, end=datetime(2025, 3, 1, 1))
    assert same.samples == page.samples
    assert page.model_dump(by_alias=True)["from"] == "2025-03-01T00:30:00Z"


def test_only_the_chosen_metrics_come_back(sqlite_store: Store) -> None:
    stored(sqlite_store, "shop", minutes(3))
    history = history_of(sqlite_store)
    page = history.page("shop", metrics=["memory_mb", "cpu_percent"])
    assert page.metrics == ["memory_mb", "cpu_percent"]
    assert page.samples[1] == {"timestamp": "2025-03-01T00:01:00Z", "memory_mb": 201.0, "cpu_percent": 11.0}
    bucket = history.page("shop", metrics=["memory_mb"], resolution="1h").samples
    assert bucket == [{"timestamp": "2025-03-01T00:00:00Z", "samples": 3, "memory_mb": 201.0}]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"limit": 0}, "limit", "limit must be between 1 and 10000"),
        ({"limit": 10_001}, "limit", "limit must be between 1 and 10000"),
        ({"offset": -1}, "offset", "offset must be >= 0"),
        (
            {"metrics": ["cpu_percent", "nonsense"]},
            "metrics",
            "unknown metric 'nonsense'; known: " + ", ".join(METRIC_NAMES),
        ),
        ({"start": "yesterday"}, "time", "not an ISO-8601 time: 'yesterday'"),
        (
            {"resolution": "fortnightly"},
            "resolution",
            "resolution 'fortnightly' is not 'raw' or a whole duration like 300s, 5m, 1h, 1d (at most 1000 days)",
        ),
        (
            {"resolution": "0.5s"},
            "resolution",
            "resolution '0.5s' is not 'raw' or a whole duration like 300s, 5m, 1h, 1d (at most 1000 days)",
        ),
    ],
)
def test_a_bad_query_names_its_parameter(sqlite_store: Store, query: dict, field: str, message: str) -> None:
    stored(sqlite_store, "shop", minutes(3))
    with pytest.raises(ValidationError) as caught:
        history_of(sqlite_store).page("shop", **query)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_to_at_or_before_from_is_an_empty_range(sqlite_store: Store) -> None:
    """Not an error: the API's schema cannot state a rule between two parameters, and an empty
    range simply has no samples."""
    stored(sqlite_store, "shop", minutes(3))
    history = history_of(sqlite_store)
    for end in ("2025-03-01T00:00:00Z", "2025-02-28T00:00:00Z"):
        assert history.page("shop", start="2025-03-01T00:00:00Z", end=end).samples == []


def test_an_unknown_plugin_is_not_found_and_a_registered_one_without_samples_has_an_empty_page(
    sqlite_store: Store,
) -> None:
    history = history_of(sqlite_store)
    with pytest.raises(NotFound) as caught:
        history.page("ghost")
    assert caught.value.message == "plugin 'ghost' is not registered and has sent no metrics"
    with pytest.raises(NotFound):
        history.frame("ghost")

    sqlite_store.plugins.upsert({"plugin_id": "silent"})
    page = history.page("silent")
    assert (page.count, page.next_offset, page.samples) == (0, None, [])
    frame = history.frame("silent")
    assert frame.empty and list(frame.columns) == []


def test_the_frame_is_the_newest_days_indexed_by_utc_time(sqlite_store: Store) -> None:
    samples = synthetic_plugin(2)  # 576 samples, 5 minutes apart
    stored(sqlite_store, "shop", samples)
    history = history_of(sqlite_store)

    whole = history.frame("shop")
    assert len(whole) == 576 and list(whole.columns) == list(METRIC_NAMES)
    assert str(whole.index.tz) == "UTC" and whole.index.is_monotonic_increasing
    assert whole.index[-1].isoformat() == samples[-1]["timestamp"]
    assert whole["memory_mb"].iloc[-1] == samples[-1]["memory_mb"]
    assert whole["response_time_p95_ms"].isna().all()

    day = history.frame("shop", days=1)
    # from the newest sample back one day, both ends included: 288 steps + 1
    assert len(day) == 289
    assert day.index[0] == whole.index[-1] - timedelta(days=1)
