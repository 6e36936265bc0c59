"""Learning a backlog in one pass leaves a detector where streaming it would have, on real NAB series.

Histories, step, period and the forest are rebuilt exactly; calibrators are estimated from
~1000 of the positions, so scores after the backlog are close, not identical, and the same
incidents alert.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plugin_ai_analytics.anomaly import PluginDetector
from plugin_ai_analytics.anomaly.calibration import TailCalibrator

from .conftest import NAB

# Files of both kinds: AWS CloudWatch (4032 samples at 5 minutes, some with gaps) and ad
# exchange (~1600 hourly samples).
AGREEMENT_FILES = [
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_ac20cd.csv",
    "realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv",
    "realAWSCloudwatch/ec2_network_in_5abac7.csv",
    "realAWSCloudwatch/grok_asg_anomaly.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
    "realAdExchange/exchange-3_cpm_results.csv",
    "realAdExchange/exchange-4_cpm_results.csv",
]
STREAMED = 1000  # the part streamed after learning, where alerts are compared


def nab_series(name: str) -> tuple[list[datetime], list[float]]:
    path = NAB / name
    if not path.exists():
        pytest.skip(f"NAB data not found at {path}")
    df = pd.read_csv(path)
    times = pd.to_datetime(df["timestamp"], utc=True)
    keep = ~times.duplicated()  # a repeated timestamp is a re-send (detect_frame skips it too)
    return [t.to_pydatetime() for t in times[keep]], df["value"][keep].astype(float).tolist()


def streamed(times: list[datetime], columns: dict[str, list[float | None]], upto: int) -> PluginDetector:
    det = PluginDetector()
    for i in range(upto):
        det.update(times[i], {m: col[i] for m, col in columns.items()})
    return det


def learnt(times: list[datetime], columns: dict[str, list[float | None]], upto: int) -> PluginDetector:
    det = PluginDetector()
    det.learn_history(times[:upto], {m: col[:upto] for m, col in columns.items()})
    return det


def assert_same_histories(a: PluginDetector, b: PluginDetector) -> None:
    sa, sb = a.to_state(), b.to_state()
    for key in ("samples", "last_timestamp", "step_seconds", "period", "forest_metrics", "steps"):
        assert sa[key] == sb[key], key
    assert sa["channels"].keys() == sb["channels"].keys()
    for name, ca in sa["channels"].items():
        cb = sb["channels"][name]
        assert ca["period"] == cb["period"] and ca["last_value"] == cb["last_value"], name
        assert [d["history"] for d in ca["detectors"]] == [d["history"] for d in cb["detectors"]], name
        assert [d.get("residuals") for d in ca["detectors"]] == [d.get("residuals") for d in cb["detectors"]], name
        assert [c["seen"] for c in ca["calibrators"]] == [c["seen"] for c in cb["calibrators"]], name
        assert ca["sustained"]["seen"] == cb["sustained"]["seen"], name
    if sa["forest"] is not None:
        assert sa["forest"] == sb["forest"]  # rows, the rows of the last fit, counters: the same trees
        assert sa["forest_calibrator"]["seen"] == sb["forest_calibrator"]["seen"]


@pytest.mark.slow
def test_learnt_histories_are_the_streamed_ones_with_gaps_and_missing_values() -> None:
    # Six real CloudWatch series as the metrics of one plugin (so the forest is on), with a
    # three-hour outage, scattered lost samples, missing values, and one metric that only
    # starts reporting after warm-up.
    names = [
        "ec2_cpu_utilization_24ae8d",
        "ec2_cpu_utilization_53ea38",
        "ec2_cpu_utilization_5f5533",
        "ec2_network_in_257a54",
        "rds_cpu_utilization_cc0c53",
        "rds_cpu_utilization_e47b3b",
    ]
    series = {n: nab_series(f"realAWSCloudwatch/{n}.csv")[1][:4000] for n in names}
    times_all = nab_series("realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv")[0][:4000]
    keep = [i for i in range(4000) if not (1500 <= i < 1536) and i % 89 != 7]
    times = [times_all[i] for i in keep]
    columns: dict[str, list[float | None]] = {}
    for j, (name, values) in enumerate(series.items()):
        col: list[float | None] = [values[i] for i in keep]
        for i in range(j, len(col), 41 + j):
            col[i] = None
        columns[name] = col
    columns["rds_cpu_utilization_e47b3b"][:400] = [None] * 400
    upto = len(times) - 288
    reference = streamed(times, columns, upto)
    fast = learnt(times, columns, upto)
    assert reference.forest is not None and reference.period == 288
    assert_same_histories(reference, fast)
    # It goes on as a normal detector.
    verdicts = [fast.update(times[i], {m: c[i] for m, c in columns.items()}) for i in range(upto, len(times))]
    assert all(not v.warming_up for v in verdicts) and fast.samples == len(times)


@pytest.mark.parametrize("name", AGREEMENT_FILES[:2])
def test_calibrators_hold_nearly_the_streamed_distribution(name: str) -> None:
    times, values = nab_series(name)
    upto = len(times) - STREAMED
    ref = streamed(times, {"value": values}, upto).channels["value"]
    fast = learnt(times, {"value": values}, upto).channels["value"]
    for a, b in zip(ref.calibrators, fast.calibrators, strict=True):
        qa = np.quantile(a._scores.view(), [0.5, 0.9])
        qb = np.quantile(b._scores.view(), [0.5, 0.9])
        # The same raw scores at ~1000 of ~3000 positions, in runs: quantiles within 40%.
        assert np.all(np.abs(qa - qb) <= 0.4 * np.maximum(qa, qb) + 1e-6), (qa, qb)
    # The sustained signal is the loosest: streaming averaged surprises from calibrators that were
    # still filling up, learning calibrates every position against the finished ones.
    qa = np.quantile(ref.sustained._scores.view(), 0.9)
    qb = np.quantile(fast.sustained._scores.view(), 0.9)
    assert qa / 2 <= qb <= 2 * qa, (qa, qb)


@pytest.mark.slow
def test_the_same_incidents_alert_after_learning_as_after_streaming() -> None:
    """Over real series, alerts in the streamed part agree with streaming everything.

    Tolerance: the calibrators are an estimate from a sample of positions, so a marginal alert
    (just at the threshold) may move by a few samples or flip; an alert counts as found when
    the learnt detector alerts within 3 hours (36 samples) of it, and at least 80% must be
    found, with no more than a quarter extra alerts.
    """
    full_alerts, fast_alerts, found = 0, 0, 0
    for name in AGREEMENT_FILES:
        times, values = nab_series(name)
        upto = len(times) - STREAMED
        everything = PluginDetector()
        expected = [i for i in range(len(times)) if everything.update(times[i], {"value": values[i]}).alert]
        expected = [i for i in expected if i >= upto]
        fast = learnt(times, {"value": values}, upto)
        got = [i for i in range(upto, len(times)) if fast.update(times[i], {"value": values[i]}).alert]
        full_alerts += len(expected)
        fast_alerts += len(got)
        found += sum(any(abs(i - j) <= 36 for j in got) for i in expected)
    assert full_alerts >= 15, "the streamed parts must contain real incidents"
    assert found >= 0.8 * full_alerts, (found, full_alerts)
    assert fast_alerts <= 1.25 * full_alerts, (fast_alerts, full_alerts)


def test_a_learnt_detector_round_trips_its_state() -> None:
    times, values = nab_series("realAdExchange/exchange-2_cpc_results.csv")
    upto = len(times) - 300
    det = learnt(times, {"value": values}, upto)
    restored = PluginDetector.from_state(json.loads(json.dumps(det.to_state())))
    assert restored.to_state() == det.to_state()
    for i in range(upto, len(times)):
        a = det.update(times[i], {"value": values[i]})
        b = restored.update(times[i], {"value": values[i]})
        assert (a.score, a.incident_score, a.alert) == (b.score, b.incident_score, b.alert)


def test_short_histories_and_used_detectors_simply_stream() -> None:
    times, values = nab_series("realAdExchange/exchange-3_cpc_results.csv")
    columns = {"value": values}
    short = learnt(times, columns, 120)  # shorter than warm-up
    assert short.warming_up and short.to_state() == streamed(times, columns, 120).to_state()
    used = streamed(times, columns, 200)
    used.learn_history(times[200:700], {"value": values[200:700]})  # already has samples: streams
    assert used.to_state() == streamed(times, columns, 700).to_state()


def test_bad_input_is_refused() -> None:
    times, values = nab_series("realAdExchange/exchange-3_cpc_results.csv")
    det = PluginDetector()
    with pytest.raises(Exception, match="timestamp"):
        det.learn_history(times[:300][::-1], {"value": values[:300]})
    with pytest.raises(Exception, match="value"):
        det.learn_history(times[:300], {"value": values[:299]})
    with pytest.raises(Exception, match="value"):
        det.learn_history(times[:300], {"value": [*values[:299], "high"]})
    assert det.samples == 0


def test_calibrator_batch_scores_match_one_by_one() -> None:
    cal = TailCalibrator(1000, 100, 4)
    rng = np.random.default_rng(3)
    for v in rng.gamma(2.0, 1.0, 1500):
        cal.learn_one(float(v))
    raws = np.array([0.0, 0.5, 2.0, 6.0, 12.0, 40.0, float("nan")])
    one_by_one = np.array([cal.surprise(float(r)) for r in raws])
    np.testing.assert_allclose(cal.surprises(raws), one_by_one, rtol=1e-12)


def test_nab_data_is_where_the_tests_expect_it() -> None:
    assert Path(NAB).is_dir() or pytest.skip("NAB data not present")
