"""export-data streams every record kind over a time range as JSON, CSV and Parquet."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pyarrow.parquet as pq

from .test_forecasts import push, synthetic_plugin


def test_metrics_export_in_every_format_over_a_range(api: httpx.Client) -> None:
    samples = synthetic_plugin(1)
    push(api, "shop", samples)
    start, end = samples[10]["timestamp"], samples[110]["timestamp"]
    params = {"from": start, "to": end}

    body = api.get("/export-data/shop", params={**params, "format": "json", "kind": "metrics"}).json()
    assert len(body["metrics"]) == 100
    assert body["metrics"][0]["cpu_percent"] == samples[10]["cpu_percent"]

    text = api.get("/export-data/shop", params={**params, "format": "csv"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 100 and float(rows[-1]["memory_mb"]) == samples[109]["memory_mb"]

    r = api.get("/export-data/shop", params={**params, "format": "parquet"})
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 100
    assert table.column("request_count").to_pylist()[0] == samples[10]["request_count"]
    assert str(table.schema.field("timestamp").type) == "timestamp[ms, tz=UTC]"


def test_json_export_holds_every_record_kind(api: httpx.Client, service) -> None:
    push(api, "shop", synthetic_plugin(5))
    service.train_models_now("shop")
    body = json.loads(api.get("/export-data/shop").content)
    assert set(body) >= {"metrics", "predictions", "anomalies", "suggestions"}
    assert len(body["metrics"]) == 1440 and len(body["predictions"]) == 6 * 288
    assert body["predictions"][0]["target_ts"].endswith("Z")


def test_export_refuses_bad_requests_naming_the_parameter(api: httpx.Client) -> None:
    push(api, "shop", synthetic_plugin(0.1))
    r = api.get("/export-data/shop", params={"kind": "secrets"})
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = api.get("/export-data/shop", params={"format": "csv", "kind": "metrics,anomalies"})
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = api.get("/export-data/shop", params={"format": "xml"})
    assert r.status_code == 422 and r.json()["field"] == "format"
    assert api.get("/export-data/nobody").status_code == 404
