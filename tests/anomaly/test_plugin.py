"""The per-plugin detector: cold start, state that survives restarts, size, speed, input rules."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from plugin_ai_analytics.anomaly import OUTPUT_COLUMNS, PluginDetector, alert_threshold_for, detect_frame
from plugin_ai_analytics.anomaly.channel import MetricReading
from plugin_ai_analytics.errors import ValidationError

from .conftest import START, STEP, stream


def test_cold_start_says_how_many_samples_are_missing() -> None:
    det = PluginDetector(warmup=150)
    verdicts = list(stream(det, 150))
    assert [v.message for v in verdicts[:2]] == [
        "warming up: need 149 more samples",
        "warming up: need 148 more samples",
    ]
    assert all(v.warming_up and v.score == 0.0 and not v.alert for v in verdicts)
    after = next(stream(det, 1, offset=150))
    assert not after.warming_up and after.message == ""


def test_state_round_trip_through_json_resumes_identically(warmed: PluginDetector) -> None:
    restored = PluginDetector.from_state(json.loads(json.dumps(warmed.to_state())))

    def spike(i: int, s: dict) -> dict:
        return {**s, "error_rate": 0.4, "response_time_ms": 900.0}

    a = [v.to_dict() for v in stream(warmed, 60, spike, 10, seed=5, offset=700)]
    b = [v.to_dict() for v in stream(restored, 60, spike, 10, seed=5, offset=700)]
    assert a == b
    assert any(v["alert"] for v in a), "the comparison must include an event, not only calm samples"


@pytest.mark.slow
def test_state_is_json_and_under_one_megabyte_per_plugin() -> None:
    det = PluginDetector()
    for _ in stream(det, 1500):  # past every buffer's capacity for a 5-minute plugin
        pass
    size = len(json.dumps(det.to_state(), allow_nan=False).encode())
    assert size < 1_000_000, f"state is {size} bytes"


def test_update_is_fast(warmed: PluginDetector) -> None:
    lat = []
    for i, _ in enumerate(range(200)):
        t0 = time.perf_counter()
        next(stream(warmed, 1, seed=i, offset=700 + i))
        lat.append(time.perf_counter() - t0)
    assert np.percentile(lat, 99) < 0.05  # the service's budget: 50 ms p99 per pushed sample


def test_out_of_order_timestamps_are_refused(warmed: PluginDetector) -> None:
    with pytest.raises(ValidationError) as err:
        warmed.update(START + 10 * STEP, {"cpu_percent": 1.0})
    assert err.value.field == "timestamp"


def test_non_numeric_value_names_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        PluginDetector().update(START, {"cpu_percent": "high"})  # type: ignore[dict-item]
    assert err.value.field == "cpu_percent"


def test_sensitivity_sets_how_rare_an_alert_must_be() -> None:
    assert alert_threshold_for(0.5) < alert_threshold_for(0.1) < alert_threshold_for(0.01)
    assert alert_threshold_for(0.1) == pytest.approx(0.4)
    with pytest.raises(ValidationError):
        alert_threshold_for(0.0)


def test_detect_frame_output_shape_and_first_column_as_value() -> None:
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=n, freq="5min").astype(str),
            "throughput": 100 + rng.normal(0, 1, n),
            "latency": 20 + rng.normal(0, 1, n),
        }
    )
    df.loc[300, "throughput"] = 160.0
    out = detect_frame(df)
    assert list(out.columns) == OUTPUT_COLUMNS
    assert len(out) == n and (out["value"] == df["throughput"]).all()
    assert out["alert"].sum() >= 1
    assert out.loc[300, "severity"] != "", "the spike belongs to an event"
    # An alert is raised on the row whose incident evidence opens the event or, for an anomaly
    # that stays inside the usual range, on a later row of that event once it has persisted.
    for i in out.index[out["alert"] == 1]:
        opened = i
        while opened > 0 and out.loc[opened, "anomaly_score"] < 0.4 and out.loc[opened - 1, "severity"] != "":
            opened -= 1
        assert out.loc[opened, "anomaly_score"] >= 0.4 and (out.loc[opened:i, "severity"] != "").all()
    assert out["anomaly_score"].between(0, 1).all() and not out["anomaly_score"].isna().any()
    assert set(out["severity"]) <= {"", "High", "Medium", "Low"}


def test_state_of_another_version_is_refused_not_misread(warmed_state: dict) -> None:
    old = {**warmed_state, "version": 2}
    with pytest.raises(ValidationError) as err:
        PluginDetector.from_state(old)
    assert err.value.field == "state"


def test_a_version_3_state_resumes_with_the_paging_rule_it_had(warmed_state: dict) -> None:
    """Version 3 knew no in-range confirmation: it resumes paging at once, as it did."""
    old = {k: v for k, v in warmed_state.items() if k not in ("confirm_in_range", "run", "paged")}
    det = PluginDetector.from_state({**old, "version": 3})
    assert det.confirm_in_range == 1


def _judge_scores(scores: list[float]) -> list[tuple[bool, float]]:
    """Feed plugin scores straight to the event rules: (alert, incident_score) per sample."""
    rules = PluginDetector().incidents
    out = []
    for i, s in enumerate(scores):
        reading = MetricReading(10.0 * s, "discord1", None, None, None)
        v = rules.judge(
            START + i * STEP, s, {"cpu_percent": s}, {"cpu_percent": reading}, {"cpu_percent": 1.0}, None, {}
        )
        out.append((v.alert, v.incident_score))
    return out


def test_a_marginal_breach_alerts_only_if_the_next_sample_confirms_it() -> None:
    # Rarer than the threshold (0.4) but not a decade rarer (0.5), then calm: no alert.
    assert not any(a for a, _ in _judge_scores([0.0, 0.45, 0.05, 0.0]))
    # The same breach followed by a sample still at the hysteresis level (0.2): one alert, there.
    confirmed = _judge_scores([0.0, 0.45, 0.25, 0.0])
    assert [a for a, _ in confirmed] == [False, False, True, False]
    assert confirmed[2][1] == pytest.approx(0.45), "the incident score is the confirmed breach's"
    # A breach a decade rarer than the threshold alerts on its own sample.
    assert [a for a, _ in _judge_scores([0.0, 0.55, 0.0])] == [False, True, False]


def test_a_confirmation_on_the_last_incidents_metrics_within_its_cool_down_does_not_alert_again() -> None:
    rules = PluginDetector().incidents

    def judge(i: int, scores: dict[str, float]) -> bool:
        readings = {m: MetricReading(10.0 * s, "discord1", None, None, None) for m, s in scores.items()}
        values = dict.fromkeys(scores, 1.0)
        return rules.judge(START + i * STEP, max(scores.values()), scores, readings, values, None, {}).alert

    alerts = [judge(0, {"cpu_percent": 0.6, "memory_mb": 0.0})]  # a cpu incident
    alerts += [judge(i, {"cpu_percent": 0.0, "memory_mb": 0.0}) for i in range(1, 14)]  # closes
    alerts.append(judge(14, {"cpu_percent": 0.0, "memory_mb": 0.45}))  # marginal, other metric
    alerts.append(judge(15, {"cpu_percent": 0.25, "memory_mb": 0.25}))  # confirmed, cpu involved
    assert alerts[0] and not any(alerts[1:]), "the cpu incident flaring again is not a new alert"


def _pages(scores: list[float], novel: list[bool], confirm: int = 3) -> list[bool]:
    """Feed scores, each with whether its value is a new extreme, to the event rules: the pages."""
    rules = PluginDetector(confirm_in_range=confirm).incidents
    out = []
    for i, (s, new) in enumerate(zip(scores, novel, strict=True)):
        reading = MetricReading(10.0 * s, "discord1", None, None, None, novel=new)
        v = rules.judge(
            START + i * STEP, s, {"cpu_percent": s}, {"cpu_percent": reading}, {"cpu_percent": 1.0}, None, {}
        )
        out.append(v.alert)
    return out


def test_a_new_extreme_pages_at_once_an_in_range_anomaly_once_it_persists() -> None:
    quiet = [0.0] * 5
    # a one-sample excursion that stays inside last week's range: an event, no page
    assert not any(_pages([*quiet, 0.9, 0.0, *quiet], [False] * 12))
    # the same sample as a new extreme pages on its own sample
    assert _pages([*quiet, 0.9, 0.0], [False] * 5 + [True, False]) == [False] * 5 + [True, False]
    # an in-range anomaly that lasts pages on its third sample at the hysteresis level, once
    pages = _pages([*quiet, 0.9, 0.3, 0.5, 0.5, 0.0], [False] * 10)
    assert pages == [False] * 7 + [True, False, False]
    # with confirm_in_range=1 (the rule before issue 11) it pages where it opens
    assert _pages([*quiet, 0.9, 0.0], [False] * 7, confirm=1) == [False] * 5 + [True, False]
