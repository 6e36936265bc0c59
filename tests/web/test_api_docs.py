"""The live API documentation at ``/docs`` works on a machine without internet: Swagger UI's
script and style are served by the service itself (vendored), never by a CDN."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from ..conftest import AUTH, REPO, LiveServer

pytestmark = pytest.mark.slow

LOCAL = {"127.0.0.1", "localhost"}


def offline(page: Any) -> list[str]:
    """Let the page reach only this machine; returns the list of what it tried elsewhere."""
    refused: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOCAL:
            route.continue_()
        else:
            refused.append(url)
            route.abort("internetdisconnected")

    page.route("**/*", handle)
    return refused


def test_docs_lists_the_operations_with_the_network_off(server: LiveServer, page: Any) -> None:
    refused = offline(page)
    page.goto(server.url + "/docs")
    page.locator(".opblock").first.wait_for(timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/plugin-ai-analytics/collect-metrics/{plugin_id}" in [p.replace("\u200b", "") for p in paths]
    assert len(paths) >= 20
    # An operation opens and shows its parameters: the UI is alive, not only painted.
    page.locator(".opblock-summary", has_text="/api/plugin-ai-analytics/predict/").first.click()
    page.locator(".opblock.is-open .parameters").first.wait_for()
    assert refused == []


def test_redoc_is_not_offered_since_it_would_need_a_cdn(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        assert client.get("/redoc").status_code == 404
        docs = client.get("/docs").text
    assert "cdn" not in docs.lower() and "https://" not in docs


def test_every_static_file_ships_in_the_package() -> None:
    # setuptools copies only what package-data names: a vendored file it misses is a blank page.
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["plugin_ai_analytics"]
    package = REPO / "src" / "plugin_ai_analytics"
    static = [p.relative_to(package).as_posix() for p in (package / "web" / "static").rglob("*") if p.is_file()]
    assert any(name.endswith("swagger-ui-bundle.js") for name in static)
    assert [name for name in static if not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)] == []
    assert all(Path(package / name).stat().st_size > 0 for name in static)


def test_vendored_files_are_the_recorded_ones() -> None:
    # The provenance table (package, version, checksum) stays true to the files beside it.
    vendor = REPO / "src" / "plugin_ai_analytics" / "web" / "static" / "vendor"
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", (vendor / "README.md").read_text(), re.M)
    recorded = dict(rows)
    shipped = {p.name for p in vendor.iterdir() if p.suffix in (".js", ".css")}
    assert set(recorded) == shipped
    for name, digest in recorded.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
