"""Issue 16, rows 1, 4 and 5: bad input at the edge gets a 4xx naming what is wrong, and nothing
of it is stored; a body over the limit is refused while it arrives, not after it was read whole.
Against the real server (uvicorn) on SQLite."""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from plugin_ai_analytics.service import AnalyticsService
from tests.conftest import AUTH, LiveServer, make_settings

API = "/api/plugin-ai-analytics"
LIMIT = 1024 * 1024  # a 1 MiB body limit, so the tests send little


@pytest.fixture
def live(tmp_path: Path) -> Any:
    service = AnalyticsService(make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", max_body_bytes=LIMIT))
    service.start()
    server = LiveServer(service).start()
    with httpx.Client(base_url=server.url + API, headers=AUTH, timeout=30) as client:
        client.post("/plugins", json={"plugin_id": "web-shop"}).raise_for_status()
        yield server, client
    server.stop()
    service.close()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))


def push(client: httpx.Client, **values: Any) -> httpx.Response:
    return client.post("/collect-metrics/web-shop", json={"samples": [{"timestamp": now_iso(), **values}]})


def stored(client: httpx.Client) -> list[dict]:
    return client.get("/metrics-history/web-shop").json()["samples"]


def assert_refused(response: httpx.Response, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field, body
    assert field.split(".")[-1].split("[")[0] in body["message"], body


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"memory_mb": 1e308}, "samples[0].memory_mb"),
        ({"request_count": 2**63}, "samples[0].request_count"),
        ({"request_count": 2**62}, "samples[0].request_count"),  # above 2^53: not exact as a float
        ({"active_users": 2**53 + 1}, "samples[0].active_users"),
        ({"cpu_percent": "35"}, "samples[0].cpu_percent"),  # no coercion from strings
        ({"cpu_percent": True}, "samples[0].cpu_percent"),  # nor from booleans
        ({"active_users": False}, "samples[0].active_users"),
        ({"request_count": 1200.0}, "samples[0].request_count"),  # a count is an integer
        ({"response_time_ms": 1e12}, "samples[0].response_time_ms"),
        ({"error_rate": 1.5}, "samples[0].error_rate"),
    ],
)
def test_out_of_bounds_and_coerced_values_are_refused_and_nothing_is_stored(
    live: Any, values: dict, field: str
) -> None:
    _, client = live
    assert_refused(
        push(client, cpu_percent=10.0, **values) if "cpu_percent" not in values else push(client, **values), field
    )
    assert stored(client) == []


def test_a_count_of_2_to_the_52_comes_back_exactly_as_an_integer(live: Any) -> None:
    _, client = live
    assert push(client, request_count=2**52, active_users=2**53).status_code == 200
    (row,) = stored(client)
    assert row["request_count"] == 2**52 and isinstance(row["request_count"], int)
    assert row["active_users"] == 2**53
    csv = client.get("/metrics-history/web-shop", params={"format": "csv"}).text
    assert str(2**52) in csv and f"{2**52}.0" not in csv


def test_epoch_numbers_are_seconds_never_guessed_to_be_milliseconds(live: Any) -> None:
    _, client = live
    seconds = int(time.time()) - 120
    # 1e12 was once read as milliseconds (2001-09-09); as seconds it is 31,000 years ahead
    answer = client.post("/collect-metrics/web-shop", json={"samples": [{"timestamp": 1e12, "cpu_percent": 1.0}]})
    assert_refused(answer, "samples[0].timestamp")
    assert "timestamp_ms" in answer.json()["message"]
    ok = client.post(
        "/collect-metrics/web-shop",
        json=[
            {"timestamp": seconds, "cpu_percent": 1.0},
            {"timestamp_ms": (seconds + 60) * 1000, "cpu_percent": 2.0},
        ],
    )
    assert ok.status_code == 200, ok.text
    rows = stored(client)
    assert [r["timestamp"] for r in rows] == [
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds + 60)),
    ]
    both = client.post(
        "/collect-metrics/web-shop", json=[{"timestamp": seconds, "timestamp_ms": seconds * 1000, "cpu_percent": 1.0}]
    )
    assert_refused(both, "samples[0].timestamp")


def test_an_empty_batch_is_refused_as_its_schema_says(live: Any) -> None:
    server, client = live
    assert_refused(client.post("/collect-metrics/web-shop", json={"samples": []}), "samples")
    schema = httpx.get(server.url + "/openapi.json", headers=AUTH).json()
    body = schema["paths"][API + "/collect-metrics/{plugin_id}"]["post"]["requestBody"]["content"]["application/json"]
    assert {"minItems": 1}.items() <= body["schema"]["anyOf"][0]["properties"]["samples"].items()


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/jobs?limit=5236274483571204292608", "limit"),
        ("/forecast-accuracy/web-shop?days=2.63e56", "days"),
        ("/forecast-accuracy/web-shop?days=nan", "days"),
        ("/forecast-accuracy/web-shop?days=inf", "days"),
        ("/metrics-history/web-shop?offset=99999999999999999999", "offset"),
        ("/metrics-history/web-shop?limit=10000000000000000000000", "limit"),
        ("/anomalies-history/web-shop?offset=9223372036854775808", "offset"),
        ("/alerts/deliveries?before_id=9223372036854775808", "before_id"),
        ("/audit?before_id=18446744073709551616", "before_id"),
        ("/anomalies-history/web-shop?severity=Critical", "severity"),
        ("/metrics-history/web-shop?from=yesterday", "from"),
        ("/metrics-history/web-shop?resolution=0.5s", "resolution"),
        ("/jobs?status=lost", "status"),
    ],
)
def test_every_number_and_word_a_query_sends_is_bounded(live: Any, path: str, field: str) -> None:
    _, client = live
    assert_refused(client.get(path), field)


def read_answer(sock: socket.socket, wait: float = 10) -> bytes:
    """The whole answer: the head and as much body as its Content-Length says. One recv is not
    enough, the server may send the head and the body in separate segments."""
    answer = b""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        head, sep, body = answer.partition(b"\r\n\r\n")
        if sep:
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            if len(body) >= length:
                break
        try:
            more = sock.recv(65536)
        except OSError:  # the server answered and closed the connection
            break
        if not more:
            break
        answer += more
    return answer


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(live: Any) -> None:
    server, _ = live
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"POST {API}/collect-metrics/web-shop HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {AUTH['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n".encode()
        )
        answer = read_answer(sock).decode("latin-1")  # nothing of the body was sent
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert '"field":"body"' in answer and "payload_too_large" in answer


def test_a_50_mb_chunked_body_gets_its_413_while_the_client_is_still_sending(live: Any) -> None:
    """No Content-Length: the server counts the chunks as they arrive and answers once the limit
    is passed; the client sees the answer after sending about the limit, far from 50 MB."""
    server, client = live
    chunk = b" " * 65536  # whitespace before a valid batch once gave 200 after reading all of it
    total = 50 * 1024 * 1024
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        sock.sendall(
            f"POST {API}/collect-metrics/web-shop HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {AUTH['Authorization']}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        while sent < total and not select.select([sock], [], [], 0)[0]:  # until an answer is readable
            try:
                sock.sendall(framed)
            except OSError:  # the server answered and closed the connection
                break
            sent += len(chunk)
        answer = read_answer(sock)  # the head at least: a reset may drop the body still in flight
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # what the kernel's socket buffers hold on loopback (a few MB) is all that is sent beyond the
    # limit: the answer comes with most of the 50 MB still unsent
    assert sent < 16 * LIMIT < total, f"the client had sent {sent} bytes before the answer"
    assert stored(client) == []
    # and the service goes on serving
    assert push(client, cpu_percent=1.0).status_code == 200


def test_an_imported_count_column_with_gaps_is_stored_as_integers(tmp_path: Path) -> None:
    """A CSV count column with empty cells is read as floats; its whole values are counts, while a
    pushed 1200.0 is refused (above): the file's reader chose the type, not the client."""
    import pandas as pd  # only this test builds a frame

    service = AnalyticsService(make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.db'}"))
    service.start()
    try:
        start = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(hours=1)
        frame = pd.DataFrame(
            {
                "timestamp": [start, start + pd.Timedelta(minutes=5)],
                "request_count": [1200.0, None],
                "cpu_percent": [1.0, 2.0],
            }
        )
        service.import_frame("imported", frame)
        rows = service.metrics_history("imported").samples
        assert rows[0]["request_count"] == 1200 and isinstance(rows[0]["request_count"], int)
        assert rows[1]["request_count"] is None
    finally:
        service.close()
