"""A score never depends on later samples: the first k rows of a real NAB file score the same alone."""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from plugin_ai_analytics.anomaly import detect_frame

from .conftest import NAB


def test_first_k_rows_score_identically_with_or_without_the_rest() -> None:
    path = NAB / "realAdExchange" / "exchange-2_cpc_results.csv"
    if not path.exists():
        pytest.skip(f"NAB data not found at {path}")
    df = pd.read_csv(path)
    k = 900  # well past warm-up, several calibration refreshes and events
    full = detect_frame(df)
    prefix = detect_frame(df.iloc[:k])
    assert_frame_equal(prefix, full.iloc[:k].reset_index(drop=True))
    assert full["anomaly_score"].iloc[:k].max() > 0.3, "the prefix must contain real scores, not only zeros"
