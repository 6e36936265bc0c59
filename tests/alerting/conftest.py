"""What the alerting tests run against: a real Prometheus Alertmanager (Debian's
``prometheus-alertmanager``) started on a free port, real receivers (``tests/receivers.py``), and
the service on a SQLite file with its delivery worker running.

Incidents come two ways: pushed samples scored by the real detector (``warm_plugin`` +
``push_incident``), and, where hundreds or a thousand are needed at once, anomaly events written
through the store exactly as the detector writes them (``open_event``): the same transaction,
the same hook, the same rows; only the detector's judgement is skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.times import now_ms

from ..api.test_forecasts import synthetic_plugin
from ..conftest import free_port, make_settings, unavailable
from ..receivers import SmtpServer, WebhookReceiver, wait_for

AM_CONFIG = """
route:
  receiver: keep
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: keep
"""


class Alertmanager:
    def __init__(self, url: str, process: subprocess.Popen, workdir: Path) -> None:
        self.url = url
        self.process = process
        self.workdir = workdir

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Alerts it holds as active (not resolved), matching ``labels``."""
        params = [("filter", f'{k}="{v}"') for k, v in labels.items()]
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=5)
        response.raise_for_status()
        return response.json()


def alertmanager_binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    """A real Alertmanager on a free port, clustering off (it would bind 9094 otherwise)."""
    binary = alertmanager_binary()
    if binary is None:
        unavailable("Alertmanager not found; install it with: apt-get install -y prometheus-alertmanager")
    workdir = tmp_path_factory.mktemp("alertmanager")
    (workdir / "alertmanager.yml").write_text(AM_CONFIG)
    port = free_port()
    log = (workdir / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"alertmanager exited: {(workdir / 'alertmanager.log').read_text()}")
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, 30, "Alertmanager to be ready", interval=0.1)
        yield Alertmanager(url, process, workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret="a-shared-secret-of-32-characters!")
    yield receiver
    receiver.stop()


@pytest.fixture
def slack() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(slack=True)
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        unavailable("aiosmtpd is not installed (pip install -e '.[test]')")
    server = SmtpServer()
    yield server
    server.stop()


def alert_settings(tmp_path: Path, database_url: str | None = None, **extra: Any) -> Any:
    """Fast retries (the behaviour under test does not depend on the durations) and no scheduler
    unless a test wants the rules evaluated."""
    values: dict[str, Any] = {
        "alert_retry_base_seconds": 0.2,
        "alert_retry_max_seconds": 2.0,
        "alert_delivery_attempts": 30,
        "public_url": "http://dashboard.example:8000",
        "scheduler_enabled": False,
    }
    values.update(extra)
    return make_settings(tmp_path, database_url or f"sqlite:///{tmp_path / 'analytics.db'}", **values)


@pytest.fixture
def alert_service(tmp_path: Path) -> Iterator[AnalyticsService]:
    service = AnalyticsService(alert_settings(tmp_path))
    service.start()
    yield service
    service.close()


def configure(service: AnalyticsService, points: list[dict[str, Any]], **policy: Any) -> None:
    """Every alert to every contact point at once (no group wait), one group per plugin."""
    rules = {
        "name": "everything",
        "contact_points": [p["name"] for p in points],
        "group_wait": "0s",
        "group_interval": "1s",
        **policy,
    }
    service.replace_alerting_config({"contact_points": points, "policies": [rules]})


def open_event(
    service: AnalyticsService,
    plugin_id: str,
    *,
    event_id: str = "e1",
    severity: str = "High",
    state: str = "open",
    metrics: tuple[str, ...] = ("error_rate", "response_time_ms"),
    start_ms: int | None = None,
) -> None:
    """Store an anomaly event as the detector does (``AnomalyRecords.upsert``, whose transaction
    also writes its alert)."""
    start = start_ms or now_ms() - 300_000
    evidence = {
        "error_rate": {
            "metric": "error_rate",
            "observed": 0.35,
            "expected": 0.004,
            "lower": 0.001,
            "upper": 0.006,
            "score": 1.0,
            "detector": "discord1",
            "direction": "up",
        },
        "response_time_ms": {
            "metric": "response_time_ms",
            "observed": 332.0,
            "expected": 40.1,
            "lower": 35.9,
            "upper": 44.4,
            "score": 1.0,
            "detector": "discord1",
            "direction": "up",
        },
    }
    service.store.anomalies.upsert(
        plugin_id,
        [
            {
                "event_id": event_id,
                "start_ts": start,
                "end_ts": now_ms(),
                "metrics": list(metrics),
                "kind": "spike",
                "score": 1.0,
                "severity": severity,
                "explanation": {
                    "evidence": {m: evidence[m] for m in metrics if m in evidence},
                    "diagnosis": {
                        "pattern": "dependency_failure",
                        "summary": "a dependency is failing",
                        "actions": ["Check the dependency"],
                    },
                    "explanation": "errors and latency jumped together",
                },
                "actions": ["Check the plugin's dependencies", "Roll back the last deployment if it coincides"],
                "state": state,
            }
        ],
    )


def warm_plugin(
    service: AnalyticsService, plugin_id: str, *, live: int = 60, failing: range = range(20, 26), days: float = 3
) -> list[dict[str, Any]]:
    """A plugin with ``days`` of real-looking history, its detector warmed on it; returns the
    ``live`` samples (5-minute steps up to an hour ago) that follow, with a downstream failure
    (errors at 35 %, latency x8) in the samples ``failing``."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    samples = synthetic_plugin(days + live / 288, end=end)
    history, after = samples[:-live], samples[-live:]
    service.ingest_samples(plugin_id, history)
    service.detect_anomalies(plugin_id)
    return [
        {**s, "error_rate": 0.35, "response_time_ms": s["response_time_ms"] * 8} if i in failing else s
        for i, s in enumerate(after)
    ]


def deliveries(service: AnalyticsService, **query: Any) -> list[Any]:
    """Every notification in the outbox matching ``query``, newest first (all pages)."""
    out, before = [], None
    while True:
        page = service.alert_deliveries(limit=1000, before_id=before, **query)
        out.extend(page.deliveries)
        if page.next_before_id is None:
            return out
        before = page.next_before_id
