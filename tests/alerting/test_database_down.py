"""The service's own health: with its database gone, nothing can be written to the outbox, so the
alarm goes straight to the contact points from the configuration held in memory (once), and its
resolution when the database is back. A real PostgreSQL database is taken away under the service."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from plugin_ai_analytics.service import AnalyticsService

from ..conftest import PG_ADMIN_URL
from ..receivers import WebhookReceiver, wait_for
from .conftest import alert_settings, configure


@pytest.mark.postgres
def test_an_unreachable_database_is_alarmed_directly_and_its_return_too(tmp_path: Path, postgres_url: str) -> None:
    receiver = WebhookReceiver()
    service = AnalyticsService(alert_settings(tmp_path, postgres_url))
    service.start()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = postgres_url.rsplit("/", 1)[1]
    try:
        configure(service, [{"name": "hook", "kind": "webhook", "url": receiver.url}])
        assert service.alerting.evaluate() is not None
        with admin.connect() as conn:  # the database is taken away (its connections cut)
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        service.alerting.evaluate()
        assert receiver.requests == []  # one failed check could be a blip
        service.alerting.evaluate()
        (alarm,) = wait_for(lambda: receiver.requests[:1], 10, "the database alarm")
        (alert,) = alarm.json["alerts"]
        assert alert["rule"] == "database_unreachable" and alert["severity"] == "High" and alert["status"] == "firing"
        assert alert["plugin_id"] is None and alert["dashboard_url"].endswith("#/alerts")
        service.alerting.evaluate()
        assert len(receiver.requests) == 1  # told once
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        service.alerting.evaluate()
        resolved = wait_for(lambda: receiver.requests[1:2], 10, "the resolution")[0]
        assert resolved.json["status"] == "resolved" and resolved.json["alerts"][0]["rule"] == "database_unreachable"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
        service.close()
        receiver.stop()
