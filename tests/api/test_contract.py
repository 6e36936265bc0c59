"""The OpenAPI contract is true (issue 16, row 1): schemathesis over the whole API, every check
(`--checks all`) and every phase, against the real service with an admin token. A regression —
a 500, an answer off its schema, an undocumented status, a schema-valid request refused or a
schema-violating one accepted — fails the build. benchmarks/fuzz.py runs the same harness with
ten times the budget; RELIABILITY.md records its figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.fuzz import fuzz

from plugin_ai_analytics.service import AnalyticsService
from tests.conftest import AUTH, LiveServer, make_settings

API = "/api/plugin-ai-analytics"


@pytest.mark.slow
def test_schemathesis_finds_nothing_over_the_whole_api(tmp_path: Path) -> None:
    summary = fuzz(max_examples=4, seed_value=16, workers=1, out=tmp_path)
    report = "\n".join(summary.lines())
    assert summary.requests >= 1000, report
    assert summary.checks["not_a_server_error"]["success"] >= 1000, report
    assert not summary.failures and summary.failed == 0 and not summary.errors, report
    assert summary.exit_code == 0, report + "\n" + (tmp_path / "schemathesis.out").read_text()[-4000:]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    service = AnalyticsService(make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.db'}"))
    service.start()
    server = LiveServer(service).start()
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as c:
        yield c
    server.stop()
    service.close()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/plugins", "GET, HEAD, POST"),
        ("POST", "/plugins/web-shop", "DELETE, GET, HEAD, PATCH, PUT"),
        ("DELETE", "/alerts/silences", "GET, HEAD, POST"),
        ("OPTIONS", "/alerting/contact-points/pager", "DELETE, PUT"),
    ],
)
def test_a_method_a_path_does_not_have_is_405_naming_every_method_it_has(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    answer = client.request(method, API + path, headers={"content-type": "application/json"})
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.json()["error"] == "method_not_allowed"


def test_every_error_answer_is_documented_with_the_error_schema(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert {"401", "429", "503"} <= answers.keys(), (method, path)
            for status, answer in answers.items():
                if status.startswith(("4", "5")):
                    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            if method in ("post", "put", "patch"):
                assert {"413", "415"} <= answers.keys(), (method, path)
    jobs = [("post", API + "/train-models/{plugin_id}"), ("post", API + "/batch-analysis")]
    for method, path in jobs:
        assert "Retry-After" in schema["paths"][path][method]["responses"]["429"]["headers"]


def test_an_undecodable_body_is_a_422_naming_the_body(client: httpx.Client) -> None:
    answer = client.put(API + "/alerting/policies", content=b"\xff\x00{", headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["field"] == "body"
