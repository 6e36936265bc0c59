"""The JSON form of an export: the plugin, the range, and one list of records per kind asked for
(their columns as in the store, times as ISO-8601). CSV and Parquet carry one kind, same columns."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import Record
from .metrics import MetricRow

__all__ = ["ExportDocument"]


class ExportDocument(Record):
    plugin_id: str
    name: str | None = Field(default=None, description="the plugin's name")
    description: str | None = Field(default=None, description="the plugin's description")
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str | None
    metrics: list[MetricRow] | None = Field(default=None, description="samples, when kind includes metrics")
    predictions: list[dict[str, Any]] | None = Field(
        default=None, description="stored forecast points with their actual value once scored"
    )
    anomalies: list[dict[str, Any]] | None = Field(default=None, description="anomaly events as stored")
    suggestions: list[dict[str, Any]] | None = Field(default=None, description="suggestions as stored")
