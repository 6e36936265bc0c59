"""Real AWS CloudWatch series from NAB: the analyses run without error and every number they
state is in their evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from plugin_ai_analytics.advise import PluginContext, analyse_with_report

from .conftest import NAB_AWS, untraced

SERIES = sorted(NAB_AWS.glob("*cpu_utilization*.csv")) + sorted(NAB_AWS.glob("elb_request_count*.csv"))


def load(path: Path) -> pd.DataFrame:
    metric = "request_count" if "request_count" in path.name else "cpu_percent"
    values = pd.read_csv(path, parse_dates=["timestamp"], index_col="timestamp")["value"]
    return values.to_frame(metric)


@pytest.mark.skipif(not SERIES, reason=f"NAB data not found under {NAB_AWS}")
@pytest.mark.parametrize("path", SERIES, ids=lambda p: p.stem)
def test_real_series_are_analysed_and_every_number_is_traceable(path: Path) -> None:
    report = analyse_with_report(load(path), PluginContext(cpu_cores=1))
    json.dumps(report.to_dict(), allow_nan=False)
    assert report.suggestions or report.clear or report.skipped
    for suggestion in report.suggestions:
        assert untraced(suggestion.to_dict()) == [], suggestion.title


@pytest.mark.skipif(not SERIES, reason=f"NAB data not found under {NAB_AWS}")
def test_elb_requests_and_an_instance_cpu_together() -> None:
    elb = next(p for p in SERIES if "elb" in p.name)
    cpu = next(p for p in SERIES if "ec2_cpu" in p.name)
    # Different instances, so nothing links them; the point is that mixed columns run cleanly.
    frame = load(elb).join(load(cpu), how="outer")
    report = analyse_with_report(frame, PluginContext(cpu_cores=1))
    for suggestion in report.suggestions:
        assert untraced(suggestion.to_dict()) == [], suggestion.title
