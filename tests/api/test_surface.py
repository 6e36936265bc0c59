"""Every SPEC endpoint exists in the OpenAPI schema and answers with real results, never 501."""

from __future__ import annotations

import httpx

from ..conftest import AUTH

SPEC_PATHS = {
    ("post", "/api/plugin-ai-analytics/collect-metrics/{plugin_id}"),
    ("get", "/api/plugin-ai-analytics/metrics-history/{plugin_id}"),
    ("post", "/api/plugin-ai-analytics/train-models/{plugin_id}"),
    ("get", "/api/plugin-ai-analytics/predict/{plugin_id}"),
    ("get", "/api/plugin-ai-analytics/detect-anomalies/{plugin_id}"),
    ("get", "/api/plugin-ai-analytics/anomalies-history/{plugin_id}"),
    ("get", "/api/plugin-ai-analytics/optimization-suggestions/{plugin_id}"),
    ("get", "/api/plugin-ai-analytics/suggestions-history/{plugin_id}"),
    ("get", "/api/plugin-ai-analytics/analytics-summary/{plugin_id}"),
    ("get", "/api/plugin-ai-analytics/system-status"),
    ("get", "/api/plugin-ai-analytics/export-data/{plugin_id}"),
    ("post", "/api/plugin-ai-analytics/batch-analysis"),
}


def test_every_spec_endpoint_is_in_the_openapi_schema(server) -> None:
    assert httpx.get(server.url + "/openapi.json").status_code == 401
    schema = httpx.get(server.url + "/openapi.json", headers=AUTH).json()
    present = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    assert SPEC_PATHS <= present, SPEC_PATHS - present


def test_system_status_reports_database_and_process(api: httpx.Client) -> None:
    status = api.get("/system-status").json()
    assert status["ok"] is True
    assert status["database"]["ok"] is True
    assert status["process"]["memory_mb"] > 10
    assert status["scheduler"]["running"] is True


def test_prometheus_endpoint_exposes_api_latency(server, api: httpx.Client) -> None:
    api.get("/system-status")
    text = httpx.get(server.url + "/metrics", headers=AUTH).text
    assert (
        'http_request_duration_seconds_count{method="GET",route="/api/plugin-ai-analytics/system-status",status="200"}'
        in text
    )
    assert "process_resident_memory_bytes" in text


def test_no_spec_endpoint_answers_501(api: httpx.Client) -> None:
    from .test_forecasts import push, synthetic_plugin

    push(api, "p", synthetic_plugin(0.5))
    for method, path in sorted(SPEC_PATHS):
        url = path.removeprefix("/api/plugin-ai-analytics").replace("{plugin_id}", "p")
        body = {"plugins": ["p"], "analyses": ["detect"]} if "batch" in path else None
        r = api.request(method.upper(), url, json=body)
        assert r.status_code != 501, (path, r.text)
        assert r.status_code < 500, (path, r.text)


def test_system_status_counts_models_and_detection(api: httpx.Client, service) -> None:
    from .test_forecasts import push, synthetic_plugin

    push(api, "shop", synthetic_plugin(5))
    service.train_models_now("shop")
    api.get("/detect-anomalies/shop")
    status = api.get("/system-status").json()
    assert status["models"]["active"] == 6 and status["models"]["plugins_with_models"] == 1
    assert status["anomaly_detection"]["detectors_in_memory"] == 1
    assert status["anomaly_detection"]["scoring_p99_ms"] is not None
