"""Alerting: how fast an incident reaches a real Alertmanager, and what a storm costs.

    python benchmarks/alerting.py [--incidents 50] [--storm 1000] [--json results.json]

1. Incident -> Alertmanager. A real `prometheus-alertmanager` on a free port is the contact point
   (group wait 0 s). ``--incidents`` plugins, each with 3 days of history and a warmed detector
   (the first warmed on it, the others given its history and detector state), get live samples
   over HTTP until the detector opens an event for the downstream failure in them; the clock
   runs from the push that opened the event to the alert listed by Alertmanager's API (polled
   every 5 ms). p50 / p95 / p99 / max.
2. Storm. ``--storm`` plugins open an incident as fast as the store takes them (the detector's
   write path: ``AnomalyRecords.upsert``, whose transaction writes the alert); two local webhook
   receivers: one policy groups by rule (one group for the whole storm), one by plugin (one
   notification per plugin). Reports the time to write the storm, notifications delivered per
   second, event-to-delivery latency (from the outbox: accepted by the receiver minus the change
   it notifies of), and how many grouped notifications the by-rule receiver got.
"""

from __future__ import annotations

import argparse
import http.server
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from plugin_ai_analytics.config import Settings  # noqa: E402
from plugin_ai_analytics.service import AnalyticsService  # noqa: E402
from plugin_ai_analytics.times import now_ms, to_ms  # noqa: E402

STEP = timedelta(minutes=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synthetic(days: float, end: datetime, seed: int = 7) -> list[dict[str, Any]]:
    """A plugin with a daily load cycle (as tests/api/test_forecasts.py builds it)."""
    rng = np.random.default_rng(seed)
    n = int(days * 288)
    t = np.arange(n)
    load = 200 + 150 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 10, n)
    return [
        {
            "timestamp": (end - (n - 1 - i) * STEP).isoformat(),
            "cpu_percent": float(np.clip(10 + 0.1 * load[i] + rng.normal(0, 1), 0, 400)),
            "memory_mb": float(800 + 0.05 * i + rng.normal(0, 2)),
            "response_time_ms": float(30 + 0.05 * load[i] + rng.normal(0, 1)),
            "error_rate": float(np.clip(0.002 + 0.00001 * load[i] + rng.normal(0, 0.0005), 0, 1)),
            "request_count": int(max(0, load[i])),
            "active_users": int(max(0, load[i] / 10)),
        }
        for i in range(n)
    ]


def settings(tmp: Path) -> Settings:
    return Settings(
        data_dir=tmp / "data",
        log_dir=tmp / "logs",
        log_level="WARNING",
        cpu_cores=4,
        scheduler_enabled=False,
        public_url="http://127.0.0.1:8000",
    )


class Server:
    """The service's API under uvicorn in a thread."""

    def __init__(self, service: AnalyticsService) -> None:
        import uvicorn

        from plugin_ai_analytics.api.app import create_app

        self.url = f"http://127.0.0.1:{free_port()}"
        port = int(self.url.rsplit(":", 1)[1])
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Receiver:
    def __init__(self) -> None:
        self.got: list[tuple[float, dict[str, Any]]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.got.append((time.monotonic(), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_alertmanager(tmp: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        raise SystemExit("prometheus-alertmanager not found (apt-get install -y prometheus-alertmanager)")
    (tmp / "am.yml").write_text(
        "route: {receiver: keep, group_by: ['...'], group_wait: 0s, group_interval: 1s}\nreceivers: [{name: keep}]\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'am.yml'}",
            f"--storage.path={tmp / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("Alertmanager did not start")


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.array(values)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(a, 50)), 1),
        "p95": round(float(np.percentile(a, 95)), 1),
        "p99": round(float(np.percentile(a, 99)), 1),
        "max": round(float(a.max()), 1),
    }


def incidents_to_alertmanager(count: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-alerting-am-"))
    am, am_url = start_alertmanager(tmp)
    service = AnalyticsService(settings(tmp))
    service.start()
    server = Server(service)
    try:
        service.replace_alerting_config(
            {
                "contact_points": [{"name": "am", "kind": "alertmanager", "url": am_url}],
                "policies": [{"name": "all", "contact_points": ["am"], "group_wait": "0s", "group_interval": "1s"}],
            }
        )
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
        samples = synthetic(3 + 60 / 288, end)
        history, live = samples[:-60], samples[-60:]
        live = [
            {**s, "error_rate": 0.35, "response_time_ms": s["response_time_ms"] * 8} if 20 <= i < 26 else s
            for i, s in enumerate(live)
        ]
        first = "bench-000"
        service.ingest_samples(first, history)
        service.detect_anomalies(first)
        service.detection.flush_states()
        rows = service.store.metrics.rows(first)
        state = service.store.detector_states.load(first)
        for i in range(1, count):
            service.store.metrics.insert(f"bench-{i:03d}", rows)
            service.store.detector_states.save(f"bench-{i:03d}", state, rows[-1][0])
        latencies = []
        with (
            httpx.Client(base_url=server.url + "/api/plugin-ai-analytics", timeout=30) as api,
            httpx.Client() as am_api,
        ):
            for i in range(count):
                plugin = f"bench-{i:03d}"
                api.post(f"/collect-metrics/{plugin}", json={"samples": live[:20]}).raise_for_status()
                api.get(f"/detect-anomalies/{plugin}").raise_for_status()  # its detector loaded and up to date
                opened = None
                for sample in live[20:]:
                    receipt = api.post(f"/collect-metrics/{plugin}", json={"samples": [sample]}).json()
                    if receipt["detection"] and receipt["detection"]["alerts"]:
                        opened = time.perf_counter()
                        break
                if opened is None:
                    raise SystemExit(f"{plugin}: the detector opened no event")
                params = {"filter": f'plugin_id="{plugin}"'}
                while not am_api.get(f"{am_url}/api/v2/alerts", params=params).json():
                    if time.perf_counter() - opened > 30:
                        raise SystemExit(f"{plugin}: no alert in Alertmanager after 30 s")
                    time.sleep(0.005)
                latencies.append((time.perf_counter() - opened) * 1000)
        return {"incidents_to_alertmanager_ms": percentiles(latencies)}
    finally:
        server.stop()
        service.close()
        am.terminate()
        am.wait(10)


def storm(plugins: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-alerting-storm-"))
    team, pager = Receiver(), Receiver()
    service = AnalyticsService(settings(tmp))
    service.start()
    try:
        service.replace_alerting_config(
            {
                "contact_points": [
                    {"name": "team", "kind": "webhook", "url": team.url},
                    {"name": "pager", "kind": "webhook", "url": pager.url},
                ],
                "policies": [
                    {
                        "name": "by-rule",
                        "contact_points": ["team"],
                        "group_by": ["rule"],
                        "group_wait": "1s",
                        "group_interval": "5s",
                        "continue": True,
                    },
                    {"name": "by-plugin", "contact_points": ["pager"], "group_by": ["plugin_id"], "group_wait": "0s"},
                ],
            }
        )
        started = time.perf_counter()
        for i in range(plugins):
            start = now_ms() - 300_000
            service.store.anomalies.upsert(
                f"storm-{i:04d}",
                [
                    {
                        "event_id": "e1",
                        "start_ts": start,
                        "end_ts": now_ms(),
                        "metrics": ["error_rate"],
                        "kind": "spike",
                        "score": 1.0,
                        "severity": "High",
                        "state": "open",
                        "actions": ["Check the dependency"],
                        "explanation": {"evidence": {"error_rate": {"observed": 0.35, "expected": 0.004}}},
                    }
                ],
            )
        written = time.perf_counter() - started
        while len(pager.got) < plugins or len({a["plugin_id"] for _, b in team.got for a in b["alerts"]}) < plugins:
            if time.perf_counter() - started > 300:
                raise SystemExit("the storm was not delivered in 5 minutes")
            time.sleep(0.05)
        drained = time.perf_counter() - started
        rows = []
        before = None
        while True:
            page = service.alert_deliveries(limit=1000, before_id=before)
            rows += page.deliveries
            if page.next_before_id is None:
                break
            before = page.next_before_id
        paged = [d for d in rows if d.contact_point == "pager"]
        latency = [d.latency_seconds * 1000 for d in paged]
        first_made = min(to_ms(d.created_at) for d in paged)
        last_done = max(to_ms(d.delivered_at) for d in paged)
        return {
            "storm_plugins": plugins,
            "storm_write_seconds": round(written, 2),
            "storm_events_per_second": round(plugins / written, 1),
            "storm_drained_seconds": round(drained, 2),
            "pager_notifications_per_second": round(len(paged) / ((last_done - first_made) / 1000), 1),
            "event_to_delivery_ms": percentiles(latency),
            "team_grouped_notifications": len(team.got),
            "team_alerts_in_first_notification": len(team.got[0][1]["alerts"]),
        }
    finally:
        service.close()
        team.stop()
        pager.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--storm", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="minutes")}
    with open("/proc/loadavg") as f:
        results["load_before"] = f.read().split()[:3]
    results.update(incidents_to_alertmanager(args.incidents))
    results.update(storm(args.storm))
    with open("/proc/loadavg") as f:
        results["load_after"] = f.read().split()[:3]
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
