"""Prometheus-native: ``/metrics`` carries every plugin's forecast, limits, anomaly score, open
events and accuracy, passes ``promtool check metrics``, and a real Prometheus scraping it
evaluates the rule docs/alerting.md shows and sends its alert to the same real Alertmanager."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plugin_ai_analytics.service import AnalyticsService

from ..api.test_forecasts import synthetic_plugin
from ..conftest import AUTH, REPO, TEST_ADMIN_TOKEN, LiveServer, free_port, unavailable
from ..receivers import wait_for
from .conftest import Alertmanager, alert_settings

pytestmark = pytest.mark.slow

RULE_BLOCK = re.compile(r"```yaml\n(groups:.*?)```", re.S)


def documented_rule() -> str:
    """The Prometheus rule of docs/alerting.md, with its ``for`` cut to zero for the test."""
    (block,) = RULE_BLOCK.findall((REPO / "docs" / "alerting.md").read_text(encoding="utf-8"))
    assert "PluginForecastReachesLimit" in block
    return re.sub(r"for: \S+", "for: 0s", block)


@pytest.fixture(scope="module")
def forecasting_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnalyticsService, LiveServer]]:
    """A plugin whose memory is forecast to reach its limit, and one comfortably under its own."""
    tmp = tmp_path_factory.mktemp("prometheus-rule")
    service = AnalyticsService(alert_settings(tmp))
    service.start()
    history = synthetic_plugin(3)
    for plugin_id, limit in (("prom-near", 840.0), ("prom-far", 4096.0)):
        service.register_plugin({"plugin_id": plugin_id, "memory_limit_mb": limit})
        service.ingest_samples(plugin_id, [{"timestamp": s["timestamp"], "memory_mb": s["memory_mb"]} for s in history])
        service.detect_anomalies(plugin_id)
        service.train_models_now(plugin_id)
    live = LiveServer(service).start()
    yield service, live
    live.stop()
    service.close()


def test_metrics_carry_the_forecasts_and_pass_promtool(forecasting_service) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool not found (Debian package prometheus)")
    _, live = forecasting_service
    body = httpx.get(live.url + "/metrics", timeout=10, headers=AUTH).text
    checked = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr
    for series in (
        'plugin_ai_analytics_forecast_next_hour{bound="point",metric="memory_mb",plugin_id="prom-near"}',
        'plugin_ai_analytics_forecast_peak_24h{bound="upper_95",metric="memory_mb",plugin_id="prom-near"}',
        'plugin_ai_analytics_metric_limit{metric="memory_mb",plugin_id="prom-near"} 840.0',
        'plugin_ai_analytics_anomaly_score{metric="all",plugin_id="prom-near"}',
        'plugin_ai_analytics_open_anomalies{plugin_id="prom-far",severity="High"}',
        "plugin_ai_analytics_plugins_exported 2.0",
    ):
        assert series in body


def test_the_cap_on_exported_plugins_holds(tmp_path: Path) -> None:
    service = AnalyticsService(alert_settings(tmp_path, metrics_max_plugins=3))
    try:
        for i in range(10):
            service.register_plugin({"plugin_id": f"cap-{i}", "memory_limit_mb": 100})
        families = {f["name"]: f["samples"] for f in service.metric_families()}
        limited = {labels["plugin_id"] for labels, _ in families["plugin_ai_analytics_metric_limit"]}
        assert limited == {"cap-0", "cap-1", "cap-2"}
        assert families["plugin_ai_analytics_plugins_not_exported"] == [({}, 7)]
    finally:
        service.close()


def test_prometheus_evaluates_the_documented_rule_and_its_alert_reaches_alertmanager(
    forecasting_service, alertmanager: Alertmanager, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        unavailable("prometheus binary not found; install it with: apt-get install -y prometheus")
    _, live = forecasting_service
    (tmp_path / "rules.yml").write_text(documented_rule())
    checked = subprocess.run(
        ["promtool", "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    am = alertmanager.url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "rule_files: [rules.yml]\n"
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am}']\n"
        "scrape_configs:\n  - job_name: plugin-ai-analytics\n"
        f"    authorization:\n      credentials: {TEST_ADMIN_TOKEN}\n"  # /metrics needs a (viewer) token
        f"    static_configs:\n      - targets: ['{live.url.removeprefix('http://')}']\n"
    )
    port = free_port()
    with (tmp_path / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        (alert,) = wait_for(
            lambda: alertmanager.alerts(alertname="PluginForecastReachesLimit"), 60, "the rule's alert", interval=0.5
        )
        assert alert["labels"]["plugin_id"] == "prom-near" and alert["labels"]["metric"] == "memory_mb"
        assert alert["labels"]["source"] == "prometheus" and alert["labels"]["severity"] == "High"
        assert alert["annotations"]["summary"] == "prom-near: memory_mb is forecast to reach its limit within 24 h"
    finally:
        process.terminate()
        process.wait(timeout=10)
