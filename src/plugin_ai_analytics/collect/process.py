"""The local-process source: CPU and resident memory of the process(es) chosen by pid, exact name
or command-line pattern, read with psutil and summed over every match.

CPU is measured from cumulative CPU times, never from a fresh ``cpu_percent()`` (whose first
answer is a meaningless 0): the first ``collect()`` measures over ``FIRST_SAMPLE_SECONDS`` unless
``prime()`` was called earlier; later calls measure over the time since the previous call
(calls closer together than ``MIN_CPU_WINDOW_SECONDS`` give memory but no CPU figure).
"""

from __future__ import annotations

import os
import re
import time

import psutil

from plugin_ai_analytics.errors import SourceError

__all__ = ["FIRST_SAMPLE_SECONDS", "MIN_CPU_WINDOW_SECONDS", "ProcessSource"]

FIRST_SAMPLE_SECONDS = 0.25
MIN_CPU_WINDOW_SECONDS = 0.1
_MIB = 1024 * 1024


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


class ProcessSource:
    """Reads ``cpu_percent`` (% of one core) and ``memory_mb`` (RSS, MiB) of matching processes."""

    def __init__(self, *, pid: int | None = None, name: str | None = None, cmdline: str | None = None) -> None:
        if sum(x is not None for x in (pid, name, cmdline)) != 1:
            raise ValueError("give exactly one of pid, name or cmdline")
        self.pid = pid
        self.name = name
        self.cmdline = cmdline
        self._cmdline_re = re.compile(cmdline) if cmdline is not None else None
        # (pid, create_time) -> CPU seconds at the previous reading; create_time guards pid reuse.
        self._cpu_baseline: dict[tuple[int, float], float] = {}
        self._baseline_at: float | None = None  # monotonic time of the previous reading

    def describe(self) -> str:
        if self.pid is not None:
            return f"pid={self.pid}"
        if self.name is not None:
            return f"name={self.name!r}"
        return f"cmdline=~{self.cmdline!r}"

    def _matching(self) -> list[psutil.Process]:
        if self.pid is not None:
            try:
                return [psutil.Process(self.pid)]
            except psutil.NoSuchProcess:
                return []
            except psutil.AccessDenied as exc:
                raise SourceError(f"process pid={self.pid}: access denied ({exc})") from None
        found = []
        own = os.getpid()
        for proc in psutil.process_iter(["name", "cmdline"]):
            info = proc.info
            if self.name is not None:
                if info.get("name") == self.name:
                    found.append(proc)
            else:
                argv = info.get("cmdline") or []
                # Never match ourselves by pattern: the collecting process' own argv may quote it.
                if proc.pid != own and argv and self._cmdline_re.search(" ".join(argv)):
                    found.append(proc)
        return found

    def _read(self) -> tuple[float, dict[tuple[int, float], float], float, int]:
        """CPU seconds per process, total RSS and count, skipping processes that exit meanwhile."""
        now = time.monotonic()
        cpu: dict[tuple[int, float], float] = {}
        rss = 0
        for proc in self._matching():
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    seconds = _cpu_seconds(proc)
                    resident = proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            except psutil.AccessDenied as exc:
                raise SourceError(f"process {self.describe()}: access denied to pid {proc.pid} ({exc})") from None
            cpu[key] = seconds
            rss += resident
        return now, cpu, float(rss), len(cpu)

    def prime(self) -> None:
        """Take the CPU baseline now, so the next ``collect()`` measures from here without waiting."""
        now, cpu, _, _ = self._read()
        self._cpu_baseline, self._baseline_at = cpu, now

    def collect(self) -> dict[str, float | int | None]:
        """CPU % since the previous reading (or over a short first interval) and current RSS."""
        if self._baseline_at is None:
            self.prime()
            time.sleep(FIRST_SAMPLE_SECONDS)
        now, cpu, rss, count = self._read()
        if count == 0:
            self._cpu_baseline, self._baseline_at = {}, now
            raise SourceError(f"no running process matches {self.describe()}")
        elapsed = now - self._baseline_at
        used = 0.0
        for key, seconds in cpu.items():
            before = self._cpu_baseline.get(key)
            if before is None:
                # A process that started after the previous reading spent all its CPU inside the
                # interval; one that existed before but was not matched yet cannot be split, so
                # it contributes from the next reading on rather than with an invented share.
                created = key[1]
                if created >= time.time() - elapsed:
                    used += seconds
                continue
            used += max(0.0, seconds - before)
        self._cpu_baseline, self._baseline_at = cpu, now
        # CPU times tick every 10 ms: over a shorter window than MIN_CPU_WINDOW_SECONDS the ratio
        # is mostly rounding, so no CPU figure is better than a wild one.
        cpu_percent = 100.0 * used / elapsed if elapsed >= MIN_CPU_WINDOW_SECONDS else None
        return {"cpu_percent": cpu_percent, "memory_mb": rss / _MIB}
