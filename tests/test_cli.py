"""The command-line tool, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import NAB

COMMANDS = ["serve", "demo", "import", "collect", "plugins", "status"]


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None, check: bool = True):
    full_env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": str(tmp_path / "data"),
        "AI_ANALYTICS_LOG_DIR": str(tmp_path / "logs"),
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-m", "plugin_ai_analytics", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=tmp_path,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


def test_every_subcommand_has_help(tmp_path: Path) -> None:
    top = run(tmp_path, "--help").stdout
    for command in COMMANDS:
        assert command in top
        assert "Usage" in run(tmp_path, command, "--help").stdout


def test_bad_setting_stops_start_naming_the_variable(tmp_path: Path) -> None:
    result = run(tmp_path, "status", env={"ANOMALY_DETECTION_SENSITIVITY": "2"}, check=False)
    assert result.returncode == 2
    assert "ANOMALY_DETECTION_SENSITIVITY" in result.stderr


def test_import_nab_csv_then_history_holds_every_row(tmp_path: Path) -> None:
    path = NAB / "data" / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"
    if not path.exists():
        pytest.skip(f"NAB data not found at {path}")
    rows = len(path.read_text().splitlines()) - 1
    result = run(tmp_path, "import", str(path), "--plugin", "ec2-cpu", "--map", "value=cpu_percent")
    assert f'"stored": {rows}' in result.stdout
    assert "importing" in result.stdout  # the progress bar
    listing = run(tmp_path, "plugins", "list").stdout
    assert "ec2-cpu" in listing and str(rows) in listing
    log = (tmp_path / "logs" / "plugin_ai_analytics.log").read_text()
    assert "op=import plugin=ec2-cpu imported" in log


def test_import_refuses_unknown_metric_and_bad_rows(tmp_path: Path) -> None:
    csv = tmp_path / "h.csv"
    csv.write_text("timestamp,value\n2026-01-01T00:00:00Z,1\n2026-01-01T00:05:00Z,-5\n")
    result = run(tmp_path, "import", str(csv), "-p", "x", "-m", "value=cpu", check=False)
    assert result.returncode == 2 and "unknown metric 'cpu'" in result.stderr
    result = run(tmp_path, "import", str(csv), "-p", "x", "-m", "value=memory_mb", check=False)
    assert result.returncode == 2 and "samples[1].memory_mb" in result.stderr
    assert "0 earlier rows were stored" in result.stderr
