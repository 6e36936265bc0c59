"""Dashboard time-to-interactive with 100 plugins x 14 days of 5-minute data, measured by the
browser itself (headless Chromium, Playwright) against `plugin-ai-analytics serve`.

    python benchmarks/dashboard.py [--plugins 100] [--days 14] [--runs 5] [--data DIR]

Builds (once; reused when --data already holds it) a SQLite database of synthetic plugins with
all seven metrics, a daily load cycle, a slow leak in some and injected incidents in others;
runs anomaly detection over every plugin's history and trains every plugin's forecasters, so
the overview and plugin view carry real anomalies, forecasts and accuracy. Then serves it as a
user would (a subprocess) and opens each view in a fresh browser context (empty cache) --runs
times, reading PerformanceNavigationTiming (domInteractive) and the page's own marks:
``overview-ready`` (table rendered) and ``plugin-ready`` (charts drawn with data), plus
``plugin-forecast`` / ``plugin-anomalies`` when those overlays land; and the time a switch to
the 7- and 14-day ranges takes (downsampled history fetched, charts redrawn).
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

CHROMIUM = os.environ.get("AI_ANALYTICS_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP = timedelta(minutes=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synthetic(index: int, days: int, end: datetime) -> list[dict]:
    rng = np.random.default_rng(index)
    n = days * 288
    t = np.arange(n)
    scale = 0.5 + rng.random() * 2
    load = scale * (200 + 150 * np.sin(2 * np.pi * (t - rng.integers(288)) / 288)) + rng.normal(0, 10, n)
    load = np.maximum(load, 1)
    leak = 0.05 if index % 5 == 0 else 0.0
    cpu = np.clip(5 + 0.08 * load + rng.normal(0, 1.5, n), 0, 100)
    memory = 400 + 300 * rng.random() + leak * t + rng.normal(0, 3, n)
    latency = 25 + 0.04 * load + rng.normal(0, 1.5, n)
    errors = np.clip(0.002 + 0.00001 * load + rng.normal(0, 0.0005, n), 0, 1)
    if index % 7 == 0:  # an incident two days ago: latency and errors jump for an hour
        k = n - 2 * 288
        latency[k : k + 12] *= 4
        errors[k : k + 12] = np.clip(errors[k : k + 12] * 20, 0, 1)
    users = load / 10
    samples = []
    for i in range(n):
        samples.append(
            {
                "timestamp": (end - (n - 1 - i) * STEP).isoformat(),
                "cpu_percent": round(float(cpu[i]), 3),
                "memory_mb": round(float(memory[i]), 2),
                "response_time_ms": round(float(max(latency[i], 0)), 2),
                "response_time_p95_ms": round(float(max(latency[i], 0) * 2.2), 2),
                "error_rate": round(float(errors[i]), 5),
                "request_count": int(load[i]),
                "active_users": int(users[i]),
            }
        )
    return samples


def viewed(plugins: list[str], runs: int) -> list[str]:
    """The plugins whose view is measured: spread over the list."""
    return [plugins[(i * 37) % len(plugins)] for i in range(runs)]


def build(data: Path, plugins: int, days: int, detect: int, runs: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from plugin_ai_analytics.config import Settings
    from plugin_ai_analytics.service import AnalyticsService

    settings = Settings(data_dir=data, log_dir=data / "logs", scheduler_enabled=False)
    service = AnalyticsService(settings)
    service.start()
    # Scoring a 14-day backlog costs ~15 s per 7-metric plugin on this machine: 100 of them in
    # the background would take half an hour. Score the plugins the views open (and a few more)
    # explicitly instead; the rest show no anomalies, which costs the overview nothing less.
    service.detection.stop()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    started = time.perf_counter()
    ids = [f"bench-{i:03d}" for i in range(plugins)]  # sorted, as viewed() expects
    for i, plugin_id in enumerate(ids):
        samples = synthetic(i, days, end)
        for b in range(0, len(samples), 5000):
            service.ingest_samples(plugin_id, samples[b : b + 5000])
        service.register_plugin(
            {
                "plugin_id": plugin_id,
                "name": f"Benchmark plugin {i:03d}",
                "interval_seconds": 300,
                "memory_limit_mb": 1000.0 if i % 5 == 0 else None,
            }
        )
    print(f"ingested {plugins} x {days * 288} samples in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    scored = list(dict.fromkeys([*viewed(ids, runs), *ids]))[: max(detect, runs)]
    for plugin_id in scored:
        service.detect_anomalies(plugin_id)
    print(f"detection over the history of {len(scored)} plugins in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(service.train_models_now, ids))
    print(f"trained {plugins} plugins in {time.perf_counter() - started:.0f} s", flush=True)
    service.close()
    (data / "BUILT").write_text(f"{plugins} {days} {end.isoformat()}\n")


def serve(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": str(data),
        "AI_ANALYTICS_LOG_DIR": str(data / "logs"),
        "AI_ANALYTICS_SCHEDULER": "false",
        "AI_ANALYTICS_INSECURE": "true",  # loopback only: the page loads without a login
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const marks = Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime]));
  return {domInteractive: nav.domInteractive, domContentLoaded: nav.domContentLoadedEventEnd,
          load: nav.loadEventEnd, marks};
}"""


def measure(browser: object, url: str, ready_mark: str, extra_marks: tuple[str, ...]) -> dict:
    context = browser.new_context(viewport={"width": 1440, "height": 900})  # fresh cache
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(f"performance.getEntriesByName('{ready_mark}').length > 0", timeout=30_000)
    for mark in extra_marks:
        try:
            page.wait_for_function(f"performance.getEntriesByName('{mark}').length > 0", timeout=10_000)
        except Exception:
            pass
    timing = page.evaluate(TIMING)
    context.close()
    return timing


def switch_range(browser: object, url: str, label: str) -> float:
    """Open a plugin view, then time the switch to another range (history fetched, charts redrawn)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("performance.getEntriesByName('plugin-ready').length > 0", timeout=30_000)
    page.click(f'button[data-range="{label}"]')
    page.wait_for_function(f"performance.getEntriesByName('range-{label}').length > 0", timeout=30_000)
    took = page.evaluate(f"performance.getEntriesByName('range-{label}')[0].duration")
    context.close()
    return took


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.0f} ms, max {max(values):.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugins", type=int, default=100)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--detect", type=int, default=10, help="plugins whose history is scored for anomalies")
    parser.add_argument("--data", type=Path, default=Path("/tmp/plugin-ai-analytics-dashboard-bench"))
    args = parser.parse_args()

    if not (args.data / "BUILT").exists():
        args.data.mkdir(parents=True, exist_ok=True)
        build(args.data, args.plugins, args.days, args.detect, args.runs)
    print("data:", (args.data / "BUILT").read_text().strip())

    from playwright.sync_api import sync_playwright

    proc, url = serve(args.data)
    try:
        with httpx.Client(base_url=url + "/api/plugin-ai-analytics", timeout=30) as api:
            api.get("/dashboard/overview")  # first query warms SQLite's page cache, as in use
            t = time.perf_counter()
            overview = api.get("/dashboard/overview").json()
            api_ms = 1000 * (time.perf_counter() - t)
            plugins = [p["plugin_id"] for p in overview["plugins"]]
        print(f"overview API: {len(plugins)} plugins in {api_ms:.0f} ms; health {overview['health_counts']}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            measure(browser, url + "/plugin-ai-analytics", "overview-ready", ())  # warm the server
            rows = []
            for _ in range(args.runs):
                rows.append(measure(browser, url + "/plugin-ai-analytics", "overview-ready", ()))
            print("overview  domInteractive", summary([r["domInteractive"] for r in rows]))
            print("overview  overview-ready", summary([r["marks"]["overview-ready"] for r in rows]))
            views = []
            for plugin_id in viewed(sorted(plugins), args.runs):
                views.append(
                    measure(
                        browser,
                        f"{url}/plugin-ai-analytics#/plugin/{plugin_id}",
                        "plugin-ready",
                        ("plugin-forecast", "plugin-anomalies"),
                    )
                )
            print("plugin    domInteractive", summary([r["domInteractive"] for r in views]))
            print("plugin    plugin-ready  ", summary([r["marks"]["plugin-ready"] for r in views]))
            for mark in ("plugin-forecast", "plugin-anomalies"):
                got = [r["marks"][mark] for r in views if mark in r["marks"]]
                if got:
                    print(f"plugin    {mark:<14}", summary(got))
            for label in ("7d", "14d"):
                took = [
                    switch_range(browser, f"{url}/plugin-ai-analytics#/plugin/{plugin_id}", label)
                    for plugin_id in viewed(sorted(plugins), args.runs)
                ]
                print(f"plugin    switch to {label:<4}  ", summary(took))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
