"""Advice: the advice engine run on a plugin's own history and its registered limits; each
finding is one suggestion record carrying the numbers it cites, updated in place when found
again, and what could not be analysed is said, with why."""

from __future__ import annotations

from datetime import datetime

import pytest

from plugin_ai_analytics.errors import NotFound
from plugin_ai_analytics.schemas import SkippedAnalysis, SuggestionReport
from plugin_ai_analytics.store import Store
from plugin_ai_analytics.times import now_ms

from ..advise.conftest import untraced
from ..api.test_suggestions import leaking_plugin
from .conftest import advice_of, stored

DAYS = 7.2  # the CPU and peak analyses need a full week


def parsed(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_findings_carry_their_numbers_and_are_found_again_in_place(store: Store) -> None:
    store.plugins.upsert({"plugin_id": "leaky", "memory_limit_mb": 2048, "cpu_limit_percent": 100})
    samples = stored(store, "leaky", leaking_plugin(DAYS, 5.0))
    advice = advice_of(store)

    report = advice.suggest("leaky")
    assert isinstance(report, SuggestionReport) and report.not_analysed == []
    assert (parsed(report.analysed_from).timestamp(), parsed(report.analysed_to).timestamp()) == (
        samples[0][0] / 1000,
        samples[-1][0] / 1000,
    )
    found = {s.finding: s for s in report.suggestions}
    assert set(found) == {"memory_leak", "cpu_headroom"}
    leak = found["memory_leak"]
    assert 4.5 <= leak.evidence["growth_rate_mib_per_h"]["value"] <= 5.5
    # it ends near 400 + 5 MiB/h x 173 h = 1264 MiB (+15 MiB swing): ~770 MiB below the limit
    assert leak.evidence["time_to_limit_h"]["value"] == pytest.approx((2048 - 1280) / 5.0, rel=0.1)
    cpu = found["cpu_headroom"]
    assert cpu.evidence["allocation_percent"]["value"] == 100  # the plugin's own allocation, not the host's
    for suggestion in report.suggestions:
        assert suggestion.steps and suggestion.expected_effect and suggestion.created_at == suggestion.updated_at
        assert untraced(suggestion.model_dump()) == [], suggestion.title

    again = {s.finding: s for s in advice.suggest("leaky").suggestions}
    for finding, first in found.items():
        assert again[finding].suggestion_id == first.suggestion_id  # updated, not repeated
        assert again[finding].created_at == first.created_at <= again[finding].updated_at
    assert sorted(s.finding for s in advice.records("leaky")) == ["cpu_headroom", "memory_leak"]


def test_a_healthy_plugin_gets_no_suggestion_and_hears_what_was_not_analysed(sqlite_store: Store) -> None:
    stored(sqlite_store, "healthy", leaking_plugin(DAYS, 0.0))
    advice = advice_of(sqlite_store)
    report = advice.suggest("healthy")
    assert report.suggestions == []
    assert report.not_analysed == [
        SkippedAnalysis(analysis="cpu", reason="CPU allocation unknown (set cpu_cores or cpu_limit_percent)")
    ]
    assert advice.records("healthy") == []


def test_without_samples_nothing_is_analysed_and_an_unknown_plugin_is_not_found(sqlite_store: Store) -> None:
    advice = advice_of(sqlite_store)
    sqlite_store.plugins.upsert({"plugin_id": "silent"})
    assert advice.suggest("silent") == SuggestionReport(
        plugin_id="silent",
        analysed_from=None,
        analysed_to=None,
        suggestions=[],
        not_analysed=[SkippedAnalysis(analysis="all", reason="no history")],
    )
    for ask in (advice.suggest, advice.history):
        with pytest.raises(NotFound) as caught:
            ask("ghost")
        assert caught.value.message == "plugin 'ghost' is not registered and has sent no metrics"


def test_the_suggestion_history_pages_through_what_is_on_record(sqlite_store: Store) -> None:
    sqlite_store.plugins.upsert({"plugin_id": "leaky", "memory_limit_mb": 2048, "cpu_limit_percent": 100})
    stored(sqlite_store, "leaky", leaking_plugin(DAYS, 5.0))
    advice = advice_of(sqlite_store)
    before = now_ms()
    advice.suggest("leaky")

    first = advice.history("leaky", limit=1)
    assert (first.plugin_id, first.count, first.next_offset) == ("leaky", 1, 1)
    second = advice.history("leaky", limit=1, offset=1)
    assert (second.count, second.next_offset) == (1, 2)
    assert advice.history("leaky", limit=1, offset=2).model_dump(exclude={"plugin_id", "last_analysis"}) == {
        "count": 0,
        "suggestions": [],
        "next_offset": None,
    }
    last = first.last_analysis
    assert last is not None and last.found == 2 and last.analysed_to is not None
    assert {first.suggestions[0].finding, second.suggestions[0].finding} == {"memory_leak", "cpu_headroom"}
    whole = advice.history("leaky")
    assert (whole.count, whole.next_offset) == (2, None)
    # updated at or after the start, created before the end
    assert advice.history("leaky", start_ms=before).count == 2
    assert advice.history("leaky", start_ms=now_ms() + 1000).count == 0
    assert advice.history("leaky", end_ms=before - 1000).count == 0
