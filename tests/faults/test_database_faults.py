"""Issue 16, graceful under database faults, on a real service process and a real PostgreSQL:
a lock held on ``metrics`` while clients push, and the database refusing connections while the
instrumentation client and a PromQL-source collector run. Short runs here; the full-length ones
with their figures are ``benchmarks/faults.py`` (RELIABILITY.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..collect.conftest import PROMETHEUS_JOB
from .scenarios import assert_no_address, lock_scenario, refusal_scenario

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_a_locked_metrics_table_answers_503_fast_and_every_retried_batch_is_stored_once(
    tmp_path: Path, postgres_url: str
) -> None:
    run = lock_scenario(postgres_url, tmp_path, clients=20, lock_seconds=8.0)

    assert run["hung"] == 0
    # the liveness probe answered every time, and quickly (the p99 <= 100 ms figure is the benchmark's)
    assert len(run["healthz"]) > 50 and max(run["healthz"]) < 1.0, sorted(run["healthz"])[-5:]
    during = run["during_lock"]
    assert len(during) >= 20  # every client was refused at least once while the lock was held
    for push in during:
        assert push["status"] == 503, push
        assert push["seconds"] < 10, push  # the lock timeout, not the 15 s client timeout
        assert push["retry_after"] is not None and int(push["retry_after"]) >= 1
        body = json.loads(push["body"])
        assert body["error"] == "unavailable" and body["request_id"]
        assert_no_address(push["body"], postgres_url)
    # after the lock: every batch a client was told was stored is there, once (re-sends merged)
    assert run["stored"] == run["acked"] and len(run["acked"]) == 20
    assert len(run["resent"]) == 20 and all(r["stored"] == 0 and r["merged"] == 20 for r in run["resent"].values())
    assert_no_address(run["status_body"], postgres_url)


def test_a_database_refusing_connections_answers_503_and_buffered_samples_are_stored_once(
    tmp_path: Path, postgres_url: str, prometheus_server
) -> None:
    run = refusal_scenario(postgres_url, tmp_path, prometheus_server.url, PROMETHEUS_JOB, outage_seconds=6.0)

    push, ready, status = run["answers"]
    assert push.status_code == 503 and push.headers["content-type"] == "application/json"
    assert int(push.headers["retry-after"]) >= 1 and push.json()["error"] == "unavailable"
    assert ready.status_code == 503 and "database" in ready.json()["failed"]
    assert status.status_code == 200 and status.json()["database"]["ok"] is False
    for answer in run["answers"]:
        assert_no_address(answer.text, postgres_url)
    # the instrumentation client kept its samples while refused, never blocking its host
    assert run["client_during"]["buffered"] >= 4 and run["client_during"]["failed_attempts"] >= 1
    assert run["host_worst_call_s"] < 0.5
    # ... and delivered every one after, each stored once
    client = run["client"]
    assert client["buffered"] == 0 and client["dropped"] == 0 and client["rejected"] == 0
    assert run["client_rows"] == client["sent"]
    # the collector spooled what it read during the outage, and every spooled sample is stored once
    assert len(run["spooled"]) >= 3 and not run["spool_left"]
    assert set(run["spooled"]) <= set(run["promql_rows"])
    assert len(run["promql_inside"]) >= 2 and set(run["promql_inside"]) <= set(run["spooled"])
    assert run["promql_largest_gap_s"] < 3  # sampled every second throughout: nothing lost
