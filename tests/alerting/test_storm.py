"""A storm: 1,000 plugins open an incident within the same minute. Grouping holds the line: at
most one notification per group per group interval per contact point, and every alert is in one
of them. (``benchmarks/alerting.py`` measures the same storm's throughput and latency.)"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

from plugin_ai_analytics.service import AnalyticsService
from plugin_ai_analytics.times import to_ms

from ..receivers import WebhookReceiver, wait_for
from .conftest import alert_settings, deliveries, open_event

pytestmark = pytest.mark.slow

PLUGINS = 1000
INTERVAL_S = 3.0


def test_a_storm_of_1000_incidents_is_one_notification_per_group_per_interval(tmp_path: Path) -> None:
    team, pager = WebhookReceiver(), WebhookReceiver()
    service = AnalyticsService(alert_settings(tmp_path))
    service.start()
    try:
        service.replace_alerting_config(
            {
                "contact_points": [
                    {"name": "team", "kind": "webhook", "url": team.url},
                    {"name": "pager", "kind": "webhook", "url": pager.url},
                ],
                "policies": [
                    # one notification for the whole storm, then at most one per interval
                    {
                        "name": "by-rule",
                        "contact_points": ["team"],
                        "group_by": ["rule"],
                        "group_wait": "1s",
                        "group_interval": f"{INTERVAL_S}s",
                        "continue": True,
                    },
                    # one group per plugin: each plugin's incident once
                    {
                        "name": "by-plugin",
                        "contact_points": ["pager"],
                        "group_by": ["plugin_id"],
                        "group_wait": "0s",
                        "group_interval": f"{INTERVAL_S}s",
                    },
                ],
            }
        )
        started = time.monotonic()
        for i in range(PLUGINS):
            open_event(service, f"storm-{i:04d}")
        assert time.monotonic() - started < 60, "the storm did not fit in a minute"

        def team_alerts() -> set[str]:
            return {a["plugin_id"] for a in team.alerts()}

        wait_for(lambda: len(team_alerts()) == PLUGINS, 30, "every alert in a team notification", interval=0.2)
        wait_for(lambda: len(pager.requests) == PLUGINS, 60, "one pager notification per plugin", interval=0.2)

        sent: dict[tuple[str, str], list[int]] = defaultdict(list)
        for d in deliveries(service):
            sent[(d.contact_point, repr(sorted(d.group_labels.items())))].append(to_ms(d.created_at) or 0)
        team_groups = [times for (point, _), times in sent.items() if point == "team"]
        assert len(team_groups) == 1
        (times,) = team_groups
        times.sort()
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= INTERVAL_S * 1000 - 50 for gap in gaps), gaps
        assert len(team.requests) == len(times) <= 2 + (time.monotonic() - started) / INTERVAL_S
        pager_groups = {k: v for k, v in sent.items() if k[0] == "pager"}
        assert len(pager_groups) == PLUGINS and all(len(v) == 1 for v in pager_groups.values())
        assert len({r.key for r in pager.requests}) == PLUGINS
    finally:
        service.close()
        team.stop()
        pager.stop()
