"""A fixed-capacity float ring buffer whose contents are always one contiguous numpy view.

Every streaming detector keeps a bounded history; this keeps reads O(1) and state JSON-safe.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

__all__ = ["Ring"]


class Ring:
    """The last ``capacity`` floats, oldest first, readable as a contiguous array without copying.

    Each value is written twice (at ``pos`` and ``pos + capacity``) so that ``view()`` is a
    plain slice: detectors read their history on every sample, so reads must not copy.
    """

    __slots__ = ("capacity", "_data", "_pos", "count")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = int(capacity)
        self._data = np.zeros(2 * self.capacity)
        self._pos = 0  # next write index in [0, capacity)
        self.count = 0

    def append(self, value: float) -> None:
        self._data[self._pos] = value
        self._data[self._pos + self.capacity] = value
        self._pos = (self._pos + 1) % self.capacity
        if self.count < self.capacity:
            self.count += 1

    def view(self) -> np.ndarray:
        """The stored values, oldest first (a view: do not modify)."""
        end = self._pos + self.capacity
        return self._data[end - self.count : end]

    def last(self, k: int) -> np.ndarray:
        """The newest ``min(k, count)`` values, oldest first."""
        k = min(k, self.count)
        end = self._pos + self.capacity
        return self._data[end - k : end]

    def __len__(self) -> int:
        return self.count

    def to_state(self) -> dict[str, Any]:
        # Base64 of the little-endian float64 bytes: bit-exact (so a restored detector scores
        # identically) and ~40% smaller than a JSON list of float reprs.
        raw = self.view().astype("<f8").tobytes()
        return {"capacity": self.capacity, "f64": base64.b64encode(raw).decode("ascii")}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Ring:
        ring = cls(int(state["capacity"]))
        values = np.frombuffer(base64.b64decode(state["f64"]), dtype="<f8")
        for v in values[-ring.capacity :]:
            ring.append(float(v))
        return ring
