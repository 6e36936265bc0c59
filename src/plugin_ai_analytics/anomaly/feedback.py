"""Operator feedback: events marked as false alarms suppress later events of the same shape.

A shape is the metrics involved, the kind and the direction; a false alarm suppresses events of
that shape up to the magnitude it had, so a much stronger event of the same shape still alerts.
Confirming an event of a shape lifts its suppression.
"""

from __future__ import annotations

from typing import Any, Literal

from .events import EventShape

__all__ = ["FeedbackLabel", "FeedbackMemory"]

FeedbackLabel = Literal["false_alarm", "confirmed"]


class FeedbackMemory:
    """False-alarm shapes of one plugin (part of the detector state).

    >>> mem = FeedbackMemory()
    >>> shape = EventShape(("cpu_percent",), "spike", "up", 0)
    >>> mem.suppresses(shape)
    False
    >>> mem.record(shape, "false_alarm")
    >>> mem.suppresses(shape), mem.suppresses(EventShape(("cpu_percent",), "spike", "up", 2))
    (True, False)
    """

    def __init__(self) -> None:
        self._false_alarms: dict[str, int] = {}  # shape key -> highest magnitude marked false

    def record(self, shape: EventShape, label: FeedbackLabel) -> None:
        """Remember the operator's verdict on an event of ``shape``."""
        key = shape.key()
        if label == "false_alarm":
            self._false_alarms[key] = max(self._false_alarms.get(key, -1), shape.magnitude)
        elif label == "confirmed":
            # A real incident of this shape: never hide it again.
            self._false_alarms.pop(key, None)
        else:
            raise ValueError(f"feedback label must be 'false_alarm' or 'confirmed', not {label!r}")

    def suppresses(self, shape: EventShape) -> bool:
        """True when an event of ``shape`` should be tracked without alerting."""
        limit = self._false_alarms.get(shape.key())
        return limit is not None and shape.magnitude <= limit

    def __len__(self) -> int:
        return len(self._false_alarms)

    def to_state(self) -> dict[str, Any]:
        return {"false_alarms": dict(self._false_alarms)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FeedbackMemory:
        mem = cls()
        mem._false_alarms = {str(k): int(v) for k, v in state["false_alarms"].items()}
        return mem
