"""A real headless Chromium (Debian's ``chromium``, driven by Playwright) against the real
service, on a SQLite file holding real NAB series imported as plugins. Browser tests run on
SQLite only: the dashboard reads the same API whatever the database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plugin_ai_analytics.service import AnalyticsService

from ..conftest import NAB, TEST_ADMIN_TOKEN, LiveServer, make_settings, unavailable

CHROMIUM = os.environ.get("AI_ANALYTICS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AWS = NAB / "data" / "realAWSCloudwatch"
# Real recorded series, replayed as history ending now: (file, metric), the first two trained.
NAB_PLUGINS = {
    "nab-ec2-cpu-24ae8d": ("ec2_cpu_utilization_24ae8d.csv", "cpu_percent"),
    "nab-elb-requests-8c0756": ("elb_request_count_8c0756.csv", "request_count"),
    "nab-rds-cpu-cc0c53": ("rds_cpu_utilization_cc0c53.csv", "cpu_percent"),
    "nab-ec2-cpu-825cc2": ("ec2_cpu_utilization_825cc2.csv", "cpu_percent"),
}
TRAINED = ("nab-ec2-cpu-24ae8d", "nab-elb-requests-8c0756")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'analytics.db'}"


def import_nab(service: AnalyticsService, plugins: dict[str, tuple[str, str]] = NAB_PLUGINS) -> None:
    from plugin_ai_analytics.collect.importer import read_history

    for plugin_id, (name, metric) in plugins.items():
        frame = read_history(AWS / name, "timestamp", {"value": metric}, shift_to_now=True)
        if metric == "request_count":
            frame[metric] = frame[metric].round()
        service.import_frame(plugin_id, frame)
        service.register_plugin(
            {"plugin_id": plugin_id, "name": f"NAB {name.removesuffix('.csv')}", "interval_seconds": 300}
        )


@pytest.fixture(scope="module")
def nab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One service for the module: NAB plugins imported, detection run over their history, two
    of them trained, behind the real HTTP server."""
    missing = [name for name, _ in NAB_PLUGINS.values() if not (AWS / name).exists()]
    if missing:
        unavailable(f"NAB data not found under {AWS}: {', '.join(missing)}")
    tmp = tmp_path_factory.mktemp("dashboard")
    service = AnalyticsService(make_settings(tmp, f"sqlite:///{tmp / 'analytics.db'}", scheduler_enabled=False))
    service.start()
    import_nab(service)
    for plugin_id in NAB_PLUGINS:
        service.detect_anomalies(plugin_id)
    for plugin_id in TRAINED:
        service.train_models_now(plugin_id)
    live = LiveServer(service).start()
    yield live
    live.stop()
    service.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM} (Debian package 'chromium'; scripts/test installs it as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def log_in(context: Any, token: str = TEST_ADMIN_TOKEN) -> None:
    """What logging in leaves in a browser: the session cookie (HttpOnly) and the CSRF cookie,
    for every test server (cookies are per host, not per port)."""
    common = {"domain": "127.0.0.1", "path": "/", "sameSite": "Strict"}
    context.add_cookies(
        [
            {"name": "paa_session", "value": token, "httpOnly": True, **common},
            {"name": "paa_csrf", "value": "test-csrf", "httpOnly": False, **common},
        ]
    )


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own storage, logged in) on a laptop-sized screen; page errors fail the test."""
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the page's CSP forbids
    # (no eval); tests/web/test_login.py checks the page under its CSP, without the bypass.
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US", bypass_csp=True)
    log_in(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Pages (logged in) in a browser set to a locale and time zone; page errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(locale: str = "en-US", timezone: str = "UTC", width: int = 1440, height: int = 900) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale=locale, timezone_id=timezone, bypass_csp=True
        )
        log_in(context)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test is in the slow lane (a real Chromium and a service holding NAB data)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.slow)
