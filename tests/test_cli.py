"""The command-line tool, run as a real subprocess."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .conftest import NAB, REPO, TEST_ADMIN_TOKEN

COMMANDS = [
    "serve",
    "demo",
    "import",
    "collect",
    "plugins",
    "status",
    "forecast",
    "backtest",
    "detect",
    "worker",
    "beat",
    "workers",
]


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


@pytest.mark.slow
def test_every_subcommand_has_help(tmp_path: Path) -> None:
    top = run(tmp_path, "--help").stdout
    for command in COMMANDS:
        assert command in top
        assert "Usage" in run(tmp_path, command, "--help").stdout


def test_bad_setting_stops_start_naming_the_variable(tmp_path: Path) -> None:
    result = run(tmp_path, "status", env={"ANOMALY_DETECTION_SENSITIVITY": "2"}, check=False)
    assert result.returncode == 2
    assert "ANOMALY_DETECTION_SENSITIVITY" in result.stderr


@pytest.mark.slow
def test_import_nab_csv_then_history_holds_every_row(tmp_path: Path) -> None:
    path = NAB / "data" / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"
    if not path.exists():
        pytest.skip(f"NAB data not found at {path}")
    rows = len(path.read_text().splitlines()) - 1
    # 2014 history: retention (30 days) would delete it all within the hour, so it is refused
    # before anything is stored, saying how to keep it.
    refused = run(tmp_path, "import", str(path), "--plugin", "ec2-cpu", "--map", "value=cpu_percent", check=False)
    assert refused.returncode == 2
    assert f"{rows} of {rows} rows are older than the metrics retention of 30 days" in refused.stderr
    assert "--shift-to-now" in refused.stderr and "--keep" in refused.stderr
    assert "ec2-cpu" not in run(tmp_path, "plugins", "list").stdout
    result = run(tmp_path, "import", str(path), "--plugin", "ec2-cpu", "--map", "value=cpu_percent", "--shift-to-now")
    assert f'"stored": {rows}' in result.stdout
    assert "importing" in result.stdout  # the progress bar
    listing = run(tmp_path, "plugins", "list").stdout
    assert "ec2-cpu" in listing and str(rows) in listing
    log = (tmp_path / "logs" / "plugin_ai_analytics.log").read_text()
    assert "op=import plugin=ec2-cpu imported" in log


@pytest.mark.slow
def test_import_refuses_unknown_metric_and_bad_rows(tmp_path: Path) -> None:
    csv = tmp_path / "h.csv"
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    csv.write_text(f"timestamp,value\n{recent.isoformat()},1\n{(recent + timedelta(minutes=5)).isoformat()},-5\n")
    result = run(tmp_path, "import", str(csv), "-p", "x", "-m", "value=cpu", check=False)
    assert result.returncode == 2 and "unknown metric 'cpu'" in result.stderr
    result = run(tmp_path, "import", str(csv), "-p", "x", "-m", "value=memory_mb", check=False)
    assert result.returncode == 2 and "samples[1].memory_mb" in result.stderr
    assert "0 earlier rows were stored" in result.stderr


@pytest.mark.slow
def test_forecast_writes_the_period_after_the_last_row(tmp_path: Path) -> None:
    import pandas as pd

    path = NAB / "data" / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"
    if not path.exists():
        pytest.skip(f"NAB data not found at {path}")
    out = tmp_path / "fc.csv"
    run(tmp_path, "forecast", str(path), "--horizon", "24h", "--output", str(out), "--metric", "cpu_percent")
    fc = pd.read_csv(out)
    assert list(fc.columns) == ["timestamp", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert len(fc) == 288
    last = pd.read_csv(path)["timestamp"].iloc[-1]
    assert pd.Timestamp(fc["timestamp"].iloc[0]) == pd.Timestamp(last, tz="UTC") + pd.Timedelta(minutes=5)
    assert (fc["lower_95"] <= fc["lower_80"]).all() and (fc["upper_80"] <= fc["upper_95"]).all()
    assert (fc["lower_95"] >= 0).all()


@pytest.mark.slow
def test_backtest_prints_per_origin_and_average(tmp_path: Path) -> None:
    import json

    path = NAB / "data" / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"
    if not path.exists():
        pytest.skip(f"NAB data not found at {path}")
    table = run(tmp_path, "backtest", str(path), "--horizon", "24h", "--origins", "3").stdout
    assert table.count("\n") >= 4 and "average" in table and "MASE" in table
    report = json.loads(run(tmp_path, "backtest", str(path), "--origins", "2", "--json").stdout)
    assert len(report["origins"]) == 2
    assert 0 < report["average"]["mase"] < 5 and 0 <= report["average"]["coverage_80"] <= 1


def test_forecast_refuses_a_short_history_saying_how_much_more(tmp_path: Path) -> None:
    csv = tmp_path / "short.csv"
    rows = ["timestamp,value"] + [f"2026-01-01T{h:02d}:00:00Z,{h}" for h in range(6)]
    csv.write_text("\n".join(rows) + "\n")
    result = run(tmp_path, "forecast", str(csv), "-o", str(tmp_path / "o.csv"), check=False)
    assert result.returncode == 2 and "insufficient data: need" in result.stderr


@pytest.mark.slow
def test_demo_prepares_real_plugins_with_forecasts(tmp_path: Path) -> None:
    import shutil

    source = NAB / "data" / "realAWSCloudwatch" / "ec2_cpu_utilization_24ae8d.csv"
    if not source.exists():
        pytest.skip(f"NAB data not found at {source}")
    folder = tmp_path / "history"
    folder.mkdir()
    shutil.copy(source, folder / source.name)
    out = run(tmp_path, "demo", "--no-serve", "--backfill", str(folder)).stdout
    assert "replayed 4032 samples of ec2_cpu_utilization_24ae8d.csv" in out
    assert "trained, scanned for anomalies and analysed 'nab-ec2-cpu-utilization-24ae8d'" in out
    import json

    status = json.loads(run(tmp_path, "status", "--local").stdout)
    assert status["plugins"] == {"registered": 3, "with_source": 3}  # own process, own /metrics, the live replay
    assert status["models"]["plugins_with_models"] == 1
    again = run(tmp_path, "demo", "--no-serve", "--backfill", str(folder)).stdout
    assert "already holds its replayed history" in again


def test_plugins_load_reports_each_problem_of_a_bad_file_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "plugins.yaml"
    path.write_text("plugins:\n  - id: web-shop\n    interval_seconds: 0\n  - plugin_id: api\n    sourse: {}\n")
    result = run(tmp_path, "plugins", "load", str(path), check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {path}:2: plugins[0] (plugin_id 'web-shop'): field interval_seconds: "
        "Input should be greater than or equal to 1 (got 0)",
        f"error: {path}:4: plugins[1] (plugin_id 'api'): field sourse: unknown field; known: id, plugin_id, name, "
        "description, source, interval_seconds, enabled, memory_limit_mb, cpu_limit_percent, keep_history, labels",
    ]
    path.write_text("plugins:\n  - id: web-shop\n    interval_seconds: 30\n")
    assert run(tmp_path, "plugins", "load", str(path)).stdout.strip() == "registered 1 plugins: web-shop"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another server is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.mark.parametrize("command", [["serve"], ["demo", "--backfill", "."]])
def test_a_busy_port_stops_serve_and_demo_before_any_set_up(tmp_path: Path, busy_port: int, command: list[str]) -> None:
    started = time.monotonic()
    result = run(tmp_path, *command, "--port", str(busy_port), check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: port {busy_port} on 127.0.0.1 is already in use; start on another one with "
        f"--port {busy_port + 1} (scripts/start: PORT={busy_port + 1} scripts/start)"
    ]
    assert result.stdout == ""  # no demo set-up was reported ...
    assert not (tmp_path / "data").exists()  # ... nor done: no database was created
    assert time.monotonic() - started < 30


def test_scripts_start_shows_the_install_and_passes_port_to_demo(tmp_path: Path) -> None:
    # The script against a stand-in .venv that records its calls: no real install.
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "start", tmp_path / "scripts" / "start")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "plugin-ai-analytics"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*"\n')
        stub.chmod(0o755)

    def start(*args: str, **env: str) -> list[str]:
        result = subprocess.run(
            ["bash", str(tmp_path / "scripts" / "start"), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=30,
            check=True,
        )
        return result.stdout.splitlines()

    out = start(PORT="9123")
    pip = [line for line in out if line.startswith("python -m pip install")]
    assert len(pip) == 2 and all(" -q" not in line for line in pip)  # pip's progress is shown
    assert any(line.startswith("==> installing") for line in out)  # and each phase is named
    assert out[-1] == "plugin-ai-analytics demo --port 9123"
    assert start()[-1] == "plugin-ai-analytics demo --port 8000"
    assert start("--port", "9200")[-1] == "plugin-ai-analytics demo --port 8000 --port 9200"  # the last wins


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("timestamp,value\n", "no data rows under the header"),
        (
            "timestamp,value\n2026-11-01T00:00:00Z,1.5\n2026-11-01T00:05:00Z,high\n",
            "column 'value', row 2: 'high' is not a number",
        ),
        ("time,value\n2026-11-01T00:00:00Z,1\n", "no column 'timestamp'"),
    ],
)
def test_detect_names_bad_input_in_one_line(tmp_path: Path, content: str, message: str) -> None:
    """Issue 10 #10: an empty file dumped a traceback, text became NaN and 'scored' silently."""
    path = tmp_path / "in.csv"
    path.write_text(content)
    result = run(tmp_path, "detect", str(path), "-o", str(tmp_path / "out.csv"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: in.csv: {message}"] or message in result.stderr.strip()
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_status_asks_the_running_server(tmp_path: Path) -> None:
    """Issue 10 #10: status reported its own short-lived instance, not the running server."""
    import json

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    down = run(tmp_path, "status", "--url", url, check=False)
    assert down.returncode == 2 and len(down.stderr.strip().splitlines()) == 1
    assert f"no service answers at {url}" in down.stderr
    env = {**os.environ, "AI_ANALYTICS_DATA_DIR": str(tmp_path / "data"), "AI_ANALYTICS_LOG_DIR": str(tmp_path)}
    env["AI_ANALYTICS_ADMIN_TOKEN"] = TEST_ADMIN_TOKEN
    server = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)], env=env, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            result = run(tmp_path, "status", "--url", url, env={"AI_ANALYTICS_TOKEN": TEST_ADMIN_TOKEN}, check=False)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["process"]["pid"] == server.pid
    finally:
        server.terminate()
        server.wait(timeout=20)
