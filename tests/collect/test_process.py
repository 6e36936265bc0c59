"""The process source measures real child processes found by pid, by name and by command line."""

from __future__ import annotations

import os
import sys
import time
import uuid

import psutil
import pytest

from plugin_ai_analytics.collect import build_source
from plugin_ai_analytics.collect.process import ProcessSource
from plugin_ai_analytics.errors import SourceError

from .conftest import proc_cpu_seconds

MIB = 1024 * 1024


def _assert_memory_matches(memory_mb: float, pids: list[int]) -> None:
    expected = sum(psutil.Process(pid).memory_info().rss for pid in pids) / MIB
    assert memory_mb == pytest.approx(expected, rel=0.2)


def _check_busy_over_window(source: ProcessSource, pid: int) -> None:
    """Two readings 0.5 s apart: CPU agrees with /proc over the same window and is busy."""
    source.collect()
    before_cpu, before_at = proc_cpu_seconds(pid), time.monotonic()
    time.sleep(0.5)
    values = source.collect()
    independent = 100 * (proc_cpu_seconds(pid) - before_cpu) / (time.monotonic() - before_at)
    assert values["cpu_percent"] == pytest.approx(independent, abs=15)
    assert values["cpu_percent"] > 20  # a busy loop; the bound leaves room for a crowded machine


def test_busy_child_by_pid_has_its_cpu_and_memory(spawn_child):
    child = spawn_child("busy", uuid.uuid4().hex)
    source = build_source({"type": "process", "pid": child.pid})

    first = source.collect()  # measured over a short first interval, never a placeholder 0

    assert first["cpu_percent"] > 20  # a busy loop; the bound leaves room for a crowded machine
    assert first["memory_mb"] > 50
    _assert_memory_matches(first["memory_mb"], [child.pid])
    _check_busy_over_window(source, child.pid)


def test_idle_child_reads_near_zero_cpu_on_the_first_call(spawn_child):
    child = spawn_child("idle", uuid.uuid4().hex)

    values = ProcessSource(pid=child.pid).collect()

    assert values["cpu_percent"] is not None
    assert values["cpu_percent"] < 10
    _assert_memory_matches(values["memory_mb"], [child.pid])


def test_child_found_by_exact_name(spawn_child, tmp_path):
    # A uniquely named link to the interpreter gives the child a process name nobody else has.
    name = "paa" + uuid.uuid4().hex[:10]
    link = tmp_path / name
    link.symlink_to(os.path.realpath(sys.executable))
    child = spawn_child("busy", "by-name", executable=str(link))
    assert psutil.Process(child.pid).name() == name

    source = build_source({"type": "process", "name": name})
    values = source.collect()

    _assert_memory_matches(values["memory_mb"], [child.pid])
    _check_busy_over_window(source, child.pid)


def test_all_processes_matching_a_cmdline_pattern_are_summed(spawn_child):
    marker = "paa-marker-" + uuid.uuid4().hex
    busy = spawn_child("busy", marker)
    idle = spawn_child("idle", marker)
    spawn_child("idle", "someone-else")  # must not be counted

    source = build_source({"type": "process", "cmdline": f"paa-marker-{marker[11:]}$"})
    values = source.collect()

    _assert_memory_matches(values["memory_mb"], [busy.pid, idle.pid])
    assert values["memory_mb"] > 100
    _check_busy_over_window(source, busy.pid)


def test_no_matching_process_is_a_source_error(spawn_child):
    with pytest.raises(SourceError, match="no running process matches"):
        build_source({"type": "process", "name": "paa-no-such-" + uuid.uuid4().hex[:4]}).collect()

    child = spawn_child("idle", uuid.uuid4().hex)
    source = build_source({"type": "process", "pid": child.pid})
    source.collect()
    child.stop()
    with pytest.raises(SourceError, match=f"pid={child.pid}"):
        source.collect()
