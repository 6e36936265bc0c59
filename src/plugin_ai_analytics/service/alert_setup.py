"""The alerting configuration in force, as every process that writes alerts reads it: kept in
memory, re-read when the stored one changed (looked at most every second), and kept as it is while
the database cannot be reached."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..alerting import DEFAULT_INHIBIT_RULES, AlertingSetup, InhibitRule, MaintenanceWindow, PolicySpec
from ..store import AlertConfigRecords

__all__ = ["SetupReader", "contact_point_spec"]

CONFIG_FOLLOW_SECONDS = 1.0  # a change made through another process is in force within this time


class SetupReader:
    def __init__(self, records: AlertConfigRecords) -> None:
        self._records = records
        self._held: tuple[Any, float, AlertingSetup] | None = None
        self._lock = threading.Lock()
        self._generation = 0  # counts this process's changes: a read older than one is not kept

    def invalidate(self) -> None:
        """The configuration was just changed through this process: read it again next time."""
        self._generation += 1
        self._held = None

    def __call__(self) -> AlertingSetup:
        held = self._held
        if held is not None and time.monotonic() - held[1] < CONFIG_FOLLOW_SECONDS:
            return held[2]
        generation = self._generation
        with self._lock:
            try:
                version = self._records.version()
            except Exception:
                if held is None:
                    raise
                return held[2]  # the database is unreachable: the configuration in memory stands
            if held is not None and held[0] == version:
                self._held = (version, time.monotonic(), held[2])
                return held[2]
            records = self._records
            inhibit = records.part("inhibit_rules")
            setup = AlertingSetup(
                policies=tuple(PolicySpec.model_validate(p) for p in records.part("policies") or []),
                inhibit_rules=tuple(
                    InhibitRule.model_validate(r) for r in (DEFAULT_INHIBIT_RULES if inhibit is None else inhibit)
                ),
                windows=tuple(MaintenanceWindow.model_validate(w) for w in records.part("maintenance_windows") or []),
                contact_points={c["name"]: contact_point_spec(c) for c in records.contact_points(with_secrets=True)},
            )
            if generation == self._generation:
                self._held = (version, time.monotonic(), setup)
            return setup


def contact_point_spec(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored contact point as a spec (without the ``_has_*`` flags the store adds)."""
    return {k: v for k, v in stored.items() if not k.startswith("_has_")}
