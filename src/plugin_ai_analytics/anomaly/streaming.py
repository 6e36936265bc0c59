"""The one contract every streaming detector keeps (score, learn, save, restore), and the
registry of the detectors that keep it, which the conformance test walks.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from .channel import MetricChannel
from .detectors import DETECTOR_TYPES
from .isolation import IsolationForestDetector

__all__ = ["STREAMING_DETECTORS", "StreamingDetector"]

X = TypeVar("X", contravariant=True)


@runtime_checkable
class StreamingDetector(Protocol[X]):
    """A detector of one stream, river's ``AnomalyDetector`` shape: score a sample on arrival,
    then learn it.

    ``x`` is one sample: a float, or for a detector with an ``n_features`` attribute (the
    multivariate forest) a row of that many floats.

    - ``score_one(x)``: how anomalous ``x`` is given what was learnt (higher = more anomalous;
      finite, >= 0). It learns nothing: scoring again gives the same score (caches may fill).
    - ``learn_one(x)``: learn ``x``. Scores depend only on samples learnt before (causal).
    - ``to_state()``: JSON-safe data; ``type(det).from_state(state)`` resumes exactly there.
    - ``kind``: the detector's name in states and in ``STREAMING_DETECTORS``.
    """

    kind: ClassVar[str]

    def score_one(self, x: X) -> float: ...

    def learn_one(self, x: X) -> None: ...

    def to_state(self) -> dict[str, Any]: ...

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StreamingDetector[X]: ...


# Every streaming detector of the engine, by kind: the single-metric ones (which a metric's
# channel rebuilds from their states), the cross-metric forest, and a metric's whole ensemble.
STREAMING_DETECTORS: dict[str, type[StreamingDetector[Any]]] = {
    **DETECTOR_TYPES,
    IsolationForestDetector.kind: IsolationForestDetector,
    MetricChannel.kind: MetricChannel,
}
