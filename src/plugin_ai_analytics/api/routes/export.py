"""``export-data``: a plugin's records over a time range as JSON, CSV or Parquet, streamed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from ...errors import Forbidden
from ...ops.export import EXPORT_KINDS, MEDIA_TYPES
from ...schemas import ExportDocument
from ..auth import CurrentIdentity
from ..deps import DateTime, PluginId, ServiceDep

router = APIRouter(tags=["export"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_STREAMED = {
    200: {
        "description": "the records, streamed: JSON (several kinds), CSV or Parquet (one kind)",
        "model": ExportDocument,
        "content": {MEDIA_TYPES["csv"]: _BINARY, MEDIA_TYPES["parquet"]: _BINARY},
    }
}


@router.get(
    "/export-data/{plugin_id}",
    summary="Export metrics, predictions, anomalies or suggestions",
    response_class=StreamingResponse,
    responses=_STREAMED,
)
def export_data(
    plugin_id: PluginId,
    service: ServiceDep,
    identity: CurrentIdentity,
    format: Annotated[Literal["json", "csv", "parquet"], Query()] = "json",
    kind: Annotated[
        str | None,
        Query(
            description="metrics, predictions, anomalies, suggestions (comma-separated for JSON; default: all "
            "for JSON, metrics for CSV/Parquet)",
            pattern="^({0})(,({0}))*$".format("|".join(EXPORT_KINDS)),
        ),
    ] = None,
    start: Annotated[DateTime | None, Query(alias="from", description="ISO-8601 start (inclusive)")] = None,
    end: Annotated[DateTime | None, Query(alias="to", description="ISO-8601 end (exclusive)")] = None,
    raw: Annotated[
        bool, Query(description="personal data unmasked (e-mails, IPs, user ids): admins only, audited")
    ] = False,
) -> StreamingResponse:
    if raw and identity.role != "admin":
        raise Forbidden("only an admin may export personal data unmasked (raw=true)")
    if kind:
        kinds = [k.strip() for k in kind.split(",") if k.strip()]
    else:
        kinds = list(EXPORT_KINDS) if format == "json" else ["metrics"]
    media_type, chunks = service.export_data(plugin_id, kinds=kinds, fmt=format, start=start, end=end, raw=raw)
    name = f"{plugin_id}-{'-'.join(kinds) if len(kinds) < 4 else 'all'}.{format}"
    return StreamingResponse(
        chunks, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
