"""Schemathesis over the whole API, against the real service: is the OpenAPI contract true?

    python benchmarks/fuzz.py [--max-examples 250] [--seed N] [--workers 2]

Starts `plugin-ai-analytics serve` on a fresh SQLite database with an admin token, registers a
plugin and pushes a day of its samples (so the stateful phase and the reads have something to
find), then runs `schemathesis run` over /openapi.json with that token and `--checks all`, every
phase (examples, coverage, fuzzing, stateful). Prints the requests sent, the test cases, and for
each check how often it ran, passed and failed, and the distinct failures; exits 1 on any.
tests/api/test_contract.py runs the same with a smaller budget in CI.

The server allows many failed authentications per minute (AI_ANALYTICS_AUTH_FAILURES_PER_MINUTE):
the `ignored_auth` check sends wrong tokens on purpose, and at the default (20) the service
would rightly lock the fuzzer's address out and answer the rest 429.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import free_port  # noqa: E402

TOKEN = "fuzz-admin-token-" + "0" * 32
API = "/api/plugin-ai-analytics"
# Operations whose schema-valid requests may still be refused with 422, because what is wrong
# depends on something JSON Schema cannot state (the clock, the URL, other stored records): see
# RELIABILITY.md ("What the contract cannot state"). Every other check runs on them, and every
# check runs everywhere else.
_ALSO_422 = '["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]'
CONFIG = "".join(
    f"""
[[operations]]
include-path = "{API}{path}"
include-method = "{method}"
checks.positive_data_acceptance.expected-statuses = {_ALSO_422}
"""
    for method, path in (
        ("POST", "/collect-metrics/{plugin_id}"),
        ("PUT", "/plugins/{plugin_id}"),
        ("PUT", "/alerting/config"),
        ("PUT", "/alerting/policies"),
        ("PUT", "/alerting/contact-points/{name}"),
        ("GET", "/export-data/{plugin_id}"),
    )
)


@dataclass
class Summary:
    command: str
    seconds: float
    requests: int
    test_cases: int
    checks: dict[str, Counter] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # the tool's own (a crash, an unreachable server)
    exit_code: int = 0

    @property
    def failed(self) -> int:
        return sum(c["failure"] for c in self.checks.values())

    def lines(self) -> list[str]:
        out = [
            f"{self.requests} requests, {self.test_cases} test cases in {self.seconds:.0f} s; "
            f"exit code {self.exit_code}",
            "statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
            f"{'check':32} {'ran':>7} {'passed':>7} {'failed':>7} {'skipped':>7}",
        ]
        for name, c in sorted(self.checks.items()):
            ran = c["success"] + c["failure"]
            out.append(f"{name:32} {ran:>7} {c['success']:>7} {c['failure']:>7} {c['skip']:>7}")
        for f in self.failures:
            out.append(f"FAILURE {f['code']} ×{f['count']}: {', '.join(f['operations'])}")
        out += [f"ERROR {e}" for e in self.errors]
        return out


def start_service(data: Path, log: IO[bytes]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": str(data / "data"),
        "AI_ANALYTICS_LOG_DIR": str(data / "logs"),
        "AI_ANALYTICS_ADMIN_TOKEN": TOKEN,
        "AI_ANALYTICS_AUTH_FAILURES_PER_MINUTE": "1000000",
        "AI_ANALYTICS_CPU_CORES": "2",
    }
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin_ai_analytics", "serve", "--port", str(port)],
        env=env,
        cwd=data,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/healthz", timeout=2).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("server did not start: " + (data / "server.err").read_text()[-2000:]) from None
            time.sleep(0.2)


def seed(url: str) -> None:
    """A registered plugin with a day of 5-minute samples."""
    with httpx.Client(base_url=url + API, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        client.post("/plugins", json={"plugin_id": "web-shop", "memory_limit_mb": 2048}).raise_for_status()
        end = int(time.time()) - 60
        samples = [
            {
                "timestamp": end - i * 300,
                "cpu_percent": 20.0 + (i % 12),
                "memory_mb": 800.0 + i % 7,
                "response_time_ms": 40.0 + i % 5,
                "error_rate": 0.002,
                "request_count": 1200 + i,
                "active_users": 80 + i % 9,
            }
            for i in range(288)
        ]
        client.post("/collect-metrics/web-shop", json={"samples": samples}).raise_for_status()


def fuzz(*, max_examples: int, seed_value: int | None = None, workers: int = 1, out: Path | None = None) -> Summary:
    work = Path(tempfile.mkdtemp(prefix="fuzz-")) if out is None else out
    work.mkdir(parents=True, exist_ok=True)
    (work / "schemathesis.toml").write_text(CONFIG)
    log = open(work / "server.err", "wb")  # noqa: SIM115 - closed when the server has stopped
    try:
        proc, url = start_service(work, log)
    except Exception:
        log.close()
        raise
    try:
        seed(url)
        report = work / "report.ndjson"
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(work / "schemathesis.toml"),
            "run",
            f"{url}/openapi.json",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "all",
            "--max-examples",
            str(max_examples),
            "--workers",
            str(workers),
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
        ]
        if seed_value is not None:
            command += ["--seed", str(seed_value)]
        started = time.monotonic()
        result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=3600)
        elapsed = time.monotonic() - started
        (work / "schemathesis.out").write_text(result.stdout + result.stderr)
        summary = summarise(report, " ".join(command).replace(TOKEN, "$TOKEN"), elapsed)
        summary.exit_code = result.returncode
        return summary
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def summarise(report: Path, command: str, seconds: float) -> Summary:
    summary = Summary(command=command, seconds=seconds, requests=0, test_cases=0)
    seen_failures: dict[str, dict] = {}
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for kind in ("NonFatalError", "FatalError"):
            if kind in event:
                error = event[kind]
                summary.errors.append(f"{error.get('label', '')}: {json.dumps(error.get('value'))[:300]}")
        finished = event.get("ScenarioFinished")
        if finished:
            recorder = finished["recorder"]
            summary.test_cases += len(recorder.get("cases", {}))
            for interaction in recorder.get("interactions", {}).values():
                summary.requests += 1
                response = interaction.get("response")
                summary.statuses[str(response["status_code"]) if response else "no answer"] += 1
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    summary.checks.setdefault(check["name"], Counter())[check["status"]] += 1
                    if check["status"] == "failure":
                        key = f"{check['name']} {recorder['label']}"
                        entry = seen_failures.setdefault(
                            key, {"code": check["name"], "count": 0, "operations": [recorder["label"]]}
                        )
                        entry["count"] += 1
                        entry.setdefault("example", _example(recorder, case_id))
    summary.failures = list(seen_failures.values())
    return summary


def _example(recorder: dict, case_id: str) -> str:
    interaction = recorder.get("interactions", {}).get(case_id) or {}
    request = interaction.get("request") or {}
    response = interaction.get("response") or {}
    body = (response.get("content") or {}).get("$base64")
    text = base64.b64decode(body).decode("utf-8", "replace")[:300] if body else ""
    return f"{request.get('method')} {request.get('uri')} -> {response.get('status_code')} {text}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-examples", type=int, default=250, help="test cases per operation and phase")
    ap.add_argument("--seed", type=int, default=None)
    # One worker: schemathesis' threads can trip CPython 3.11's AST parser ("AST constructor
    # recursion depth mismatch") while hypothesis describes its strategies, a tool error.
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="keep the report and the server's log here")
    args = ap.parse_args()
    summary = fuzz(max_examples=args.max_examples, seed_value=args.seed, workers=args.workers, out=args.out)
    print(f"$ {summary.command}")
    print("\n".join(summary.lines()))
    for f in summary.failures:
        print("  e.g.", f.get("example", ""))
    sys.exit(1 if summary.failed or summary.errors or summary.exit_code else 0)


if __name__ == "__main__":
    main()
