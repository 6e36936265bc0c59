"""A collector's spool: samples read from a source while the store could not take them, kept on
disk until it can, then handed back oldest first.

One append-only JSON-lines file per source (one sample a line), bounded in bytes: when a sample
would take the file past ``max_bytes`` it is dropped and counted, so an outage of any length
costs a known amount of disk. Appends are flushed and fsync'ed, so a sample in the spool
survives the process being killed. Samples leave the file only after the store took them
(``consume``, an atomic rewrite); a crash between the two hands the same samples back again,
which the store merges by (plugin, timestamp) instead of storing twice.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["Spool"]


class Spool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.dropped = 0
        self.lock = threading.Lock()  # a scheduled and an on-demand collection may meet

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def __bool__(self) -> bool:
        return self.size > 0

    def append(self, samples: list[dict[str, Any]]) -> int:
        """Add ``samples`` behind those waiting; returns how many were dropped (the spool full)."""
        lines = [json.dumps(s, separators=(",", ":")) + "\n" for s in samples]
        room = self.max_bytes - self.size
        kept = []
        for line in lines:
            if len(line) > room:
                break
            kept.append(line)
            room -= len(line)
        dropped = len(lines) - len(kept)
        self.dropped += dropped
        if kept:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.writelines(kept)
                f.flush()
                os.fsync(f.fileno())
        return dropped

    def head(self, limit: int) -> tuple[list[dict[str, Any]], int]:
        """The oldest samples waiting, from at most ``limit`` lines, and how many lines that was
        (``consume`` it once they are stored): a line cut short by a crash is skipped."""
        out: list[dict[str, Any]] = []
        lines = 0
        if not self.path.exists():
            return out, lines
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                if lines >= limit:
                    break
                lines += 1
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out, lines

    def consume(self, count: int) -> None:
        """Remove the ``count`` oldest samples (they are stored), atomically."""
        with self.path.open(encoding="utf-8") as f:
            rest = f.readlines()[count:]
        if not rest:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.writelines(rest)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
