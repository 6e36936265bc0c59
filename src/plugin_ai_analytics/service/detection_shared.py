"""Detection shared by several processes (API replicas, Celery workers over one PostgreSQL): a
plugin is scored under its lock across processes, with the detector as last saved by any of
them, and saved before the lock goes. A part of ``Detection`` (service/detection.py), kept apart
so that file stays one concern: the streaming detector of one process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..anomaly import PluginDetector
    from ..store import DetectorStates

__all__ = ["AcrossProcesses"]


class AcrossProcesses:
    """What ``Detection`` needs from itself here: its detectors, their saved versions, which are
    dirty, the per-plugin lock, and how to load a detector."""

    _shared: Callable[[str], AbstractContextManager[Any]] | None
    _holding: threading.local
    _states: DetectorStates
    _detectors: dict[str, PluginDetector]
    _versions: dict[str, str | None]
    _dirty: set[str]

    def _lock(self, plugin_id: str) -> threading.Lock:
        raise NotImplementedError

    def _detector(self, plugin_id: str) -> PluginDetector:
        raise NotImplementedError

    @contextmanager
    def serialised(self, plugin_id: str) -> Iterator[None]:
        """Score ``plugin_id`` inside this block only. Shared (several processes): hold the
        plugin's lock across processes, with the detector as last saved by any of them, and save
        it before the lock goes, so two processes never score the same samples twice or out of
        order. Alone: nothing to do. Re-entered by the same thread, the outer block covers it."""
        holding = self._holding.__dict__.setdefault("plugins", set())
        if self._shared is None or plugin_id in holding:
            yield
            return
        with self._shared(plugin_id):
            holding.add(plugin_id)
            try:
                self._refresh(plugin_id)
                yield
                self._save(plugin_id)
            except BaseException:
                # what this process holds may be ahead of what was saved: read it again next time
                with self._lock(plugin_id):
                    self._detectors.pop(plugin_id, None)
                    self._versions.pop(plugin_id, None)
                    self._dirty.discard(plugin_id)
                raise
            finally:
                holding.discard(plugin_id)

    def _refresh(self, plugin_id: str) -> None:
        """Drop the detector held in memory if another process saved one since (its version, the
        checksum of the saved state, changed); load the saved one, so a push is scored in its
        request whichever replica it reaches."""
        version = self._states.version(plugin_id)
        with self._lock(plugin_id):
            if plugin_id in self._detectors and plugin_id in self._versions and self._versions[plugin_id] == version:
                return
            self._detectors.pop(plugin_id, None)
            self._dirty.discard(plugin_id)
            self._versions[plugin_id] = version
            if version is not None:
                self._detector(plugin_id)

    def _save(self, plugin_id: str) -> None:
        with self._lock(plugin_id):
            detector = self._detectors.get(plugin_id)
            if plugin_id not in self._dirty or detector is None:
                return
            self._dirty.discard(plugin_id)
            last = detector.last_timestamp
            self._states.save(plugin_id, detector.to_state(), int(last.timestamp() * 1000) if last else None)
            self._versions[plugin_id] = self._states.version(plugin_id)

