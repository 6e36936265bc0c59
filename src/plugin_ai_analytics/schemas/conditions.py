"""Ongoing conditions: what is bad now, whatever the anomaly detector has come to call normal."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import Record

__all__ = ["Condition"]


class Condition(Record):
    """A state that is bad now, however long ago it began (judged on the last hour)."""

    metric: str
    kind: Literal["saturated", "near_limit", "high_error_rate"]
    value: float = Field(description="the last hour's mean (CPU, error rate) or peak (memory)")
    limit: float = Field(description="the level judged against (90 % of the plugin's allocation, 5 % errors)")
    since: str | None = Field(default=None, description="when it began (plugin view and summary)")
    summary: str
