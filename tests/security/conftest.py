"""A service with authentication as shipped, behind the real HTTP server, and helpers to call it
as a given role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin_ai_analytics.service import AnalyticsService

from ..conftest import LiveServer, make_settings


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[tuple[AnalyticsService, LiveServer]]:
    """SQLite service (no background work) behind the real server; tokens made by the test."""
    service = AnalyticsService(make_settings(tmp_path, f"sqlite:///{tmp_path / 'analytics.db'}"))
    service.start(background=False)
    live = LiveServer(service).start()
    yield service, live
    live.stop()
    service.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
