"""The audit log: every state-changing call and every analysis run (who, what, which plugin,
when, outcome) appended to a hash chain; ``verify`` walks the chain and names the first entry
that does not match (edited, inserted out of turn, or the one after a deleted entry)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..logs import log_event
from ..store.audit import AuditRecords, entry_hash
from ..times import now_ms
from .masking import mask

__all__ = ["Audit", "ChainCheck"]


@dataclass(frozen=True, slots=True)
class ChainCheck:
    entries: int
    broken_at: int | None = None  # id of the first entry that fails
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)[:500]
    if isinstance(value, dict):
        return {str(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


class Audit:
    def __init__(self, records: AuditRecords) -> None:
        self._records = records

    def record(
        self,
        actor: str,
        action: str,
        *,
        plugin_id: str | None = None,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an entry; the details are masked (never a secret or personal data in the log).
        A failure to write is logged as an ERROR and not raised: the call it records has happened."""
        row = {
            "at": now_ms(),
            "actor": actor[:128],
            "action": action[:128],
            "plugin_id": plugin_id,
            "outcome": outcome[:32],
            "details": _masked(details) if details else None,
        }
        try:
            self._records.append(row)
        except Exception as exc:  # the audited call has happened; losing its entry must be loud
            log_event(logging.ERROR, "audit", f"audit entry not written: {type(exc).__name__}", action=action)

    def query(self, **filters: Any) -> list[dict[str, Any]]:
        return self._records.query(**filters)

    def verify(self) -> ChainCheck:
        """Walk the chain oldest first. The oldest entry kept anchors it (older ones may have been
        removed by the audit retention); each later one must carry its predecessor's hash."""
        count = 0
        previous: str | None = None
        for row in self._records.chain():
            count += 1
            if previous is not None and row["prev_hash"] != previous:
                return ChainCheck(count, row["id"], "does not follow the entry before it (one was removed or inserted)")
            if row["entry_hash"] != entry_hash(row, row["prev_hash"] or ""):
                return ChainCheck(count, row["id"], "its content does not match its hash (the entry was edited)")
            previous = row["entry_hash"]
        return ChainCheck(count)
