"""The replay source plays a recording on in real time after the history imported from it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from plugin_ai_analytics.collect import build_source
from plugin_ai_analytics.errors import SourceError, ValidationError


def recording(tmp_path: Path) -> Path:
    path = tmp_path / "rec.csv"
    rows = [f"2014-02-14 00:{5 * i:02d}:00,{10 + i}" for i in range(6)]  # 6 rows, 5 minutes apart
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(("minutes_since_end", "value"), [(0, 10.0), (7, 11.0), (29, 15.0), (30, 10.0), (42, 12.0)])
def test_it_continues_where_the_imported_history_ended_and_loops(
    tmp_path: Path, minutes_since_end: int, value: float
) -> None:
    source = build_source(
        {
            "type": "replay",
            "path": str(recording(tmp_path)),
            "metric": "cpu_percent",
            "ends_at": time.time() - 60 * minutes_since_end - 1,
        }
    )
    assert source.collect() == {"cpu_percent": value}


def test_a_missing_recording_is_a_source_error_and_a_bad_config_names_the_field(tmp_path: Path) -> None:
    source = build_source({"type": "replay", "path": str(tmp_path / "gone.csv"), "metric": "cpu_percent", "ends_at": 1})
    with pytest.raises(SourceError, match="cannot read the recording"):
        source.collect()
    with pytest.raises(ValidationError) as err:
        build_source({"type": "replay", "path": "x.csv", "metric": "cpu", "ends_at": 1})
    assert err.value.field == "source.metric"
