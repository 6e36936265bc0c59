"""Reading metrics back: ``metrics-history`` (JSON or CSV, raw or downsampled, paged)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ...domain import METRIC_NAMES
from ...schemas import MetricsPage
from ...times import RESOLUTION_PATTERN
from ..deps import DateTime, Offset, PluginId, ServiceDep
from ..responses import JSON

router = APIRouter(tags=["metrics"])

_METRIC_LIST = "^({0})(,({0}))*$".format("|".join(METRIC_NAMES))
_CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.get(
    "/metrics-history/{plugin_id}",
    summary="A plugin's metric history",
    response_model=MetricsPage,
    response_class=JSON,
    responses=_CSV,
)
async def metrics_history(
    plugin_id: PluginId,
    service: ServiceDep,
    start: Annotated[DateTime | None, Query(alias="from", description="ISO-8601 start (inclusive)")] = None,
    end: Annotated[DateTime | None, Query(alias="to", description="ISO-8601 end (exclusive)")] = None,
    resolution: Annotated[
        str,
        Query(
            description="'raw' or a bucket width: seconds (300 or 300s), minutes (5m), hours (1h) or days (1d), "
            "at most 1000 days (downsampled in SQL)",
            pattern=RESOLUTION_PATTERN,
        ),
    ] = "raw",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Offset = 0,
    metrics: Annotated[
        str | None, Query(description="comma-separated metric names (default: all)", pattern=_METRIC_LIST)
    ] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    chosen = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    page = await run_in_threadpool(
        lambda: service.metrics_history(
            plugin_id, start=start, end=end, resolution=resolution, limit=limit, offset=offset, metrics=chosen
        )
    )
    if format == "csv":
        out = io.StringIO()
        columns = ["timestamp", *(["samples"] if page.resolution != "raw" else []), *page.metrics]
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(page.samples)
        headers = {"Content-Disposition": f'attachment; filename="{plugin_id}-metrics.csv"'}
        if page.next_offset is not None:
            headers["X-Next-Offset"] = str(page.next_offset)
        return Response(out.getvalue(), media_type="text/csv", headers=headers)
    return JSON(page)
