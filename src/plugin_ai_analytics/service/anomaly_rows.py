"""How detection's results are written and shown: an engine event as a stored row, a stored row
as the event clients see, a batch's verdicts as the receipt of the push that brought them, and
the stored events as clients page through them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..schemas import AnomalyEvent, DetectionVerdict
from ..times import ms_to_iso

if TYPE_CHECKING:
    from ..anomaly import Event, Verdict
    from ..store import AnomalyRecords

__all__ = ["EventViews", "event_row", "public_event", "verdict_summary"]


def event_row(event: Event) -> dict[str, Any]:
    data = event.to_dict()
    state = "suppressed" if event.suppressed else ("open" if event.is_open else "closed")
    return {
        "event_id": event.event_id,
        "start_ts": int(event.start.timestamp() * 1000),
        "end_ts": int(event.end.timestamp() * 1000),
        "metrics": list(event.metrics),
        "kind": event.kind,
        "score": float(event.peak_score),
        "severity": event.severity.value,
        "explanation": data,
        "actions": list(event.diagnosis.actions),
        "state": state,
    }


def public_event(row: dict[str, Any]) -> AnomalyEvent:
    """A stored event as clients see it."""
    detail = row["explanation"] or {}
    diagnosis = detail.get("diagnosis") or {}
    return AnomalyEvent(
        event_id=row["event_id"],
        start=ms_to_iso(row["start_ts"]),
        end=ms_to_iso(row["end_ts"]),
        state=row["state"],
        metrics=row["metrics"],
        kind=row["kind"],
        severity=row["severity"],
        score=row["score"],
        explanation=detail.get("explanation"),
        evidence=detail.get("evidence"),
        moved_together=detail.get("moved_together"),
        diagnosis=diagnosis.get("summary"),
        pattern=diagnosis.get("pattern"),
        recommended_actions=row["actions"],
        feedback=row["feedback"],
        updated_at=ms_to_iso(row["updated_at"]),
    )


def verdict_summary(verdicts: list[Verdict]) -> DetectionVerdict | None:
    if not verdicts:
        return None
    last = verdicts[-1]
    return DetectionVerdict(
        score=last.score,
        anomalous=any(v.anomalous for v in verdicts),
        alerts=[v.event.event_id for v in verdicts if v.alert and v.event is not None],
        open_event=last.event.event_id if last.event is not None and last.event.is_open else None,
        warming_up=last.warming_up,
        message=last.message,
    )


class EventViews:
    """The stored events as clients page through them (a part of ``Detection``)."""

    _anomalies: AnomalyRecords

    def history(
        self,
        plugin_id: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        severity: str | None = None,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AnomalyEvent]:
        """Events still going on at or after ``start_ms`` and started before ``end_ms``, newest first."""
        if severity is not None and severity not in ("High", "Medium", "Low"):
            raise ValidationError("severity must be High, Medium or Low", field="severity")
        if state is not None and state not in ("open", "closed", "suppressed"):
            raise ValidationError("state must be open, closed or suppressed", field="state")
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be between 1 and 1000", field="limit")
        rows = self._anomalies.find(
            plugin_id,
            start_ms=start_ms,
            end_ms=end_ms,
            severity=severity,
            state=state,
            limit=limit,
            offset=offset,
        )
        return [public_event(r) for r in rows]
