"""The base of every response record: unknown fields are a bug, not something to pass along;
fields named like Python keywords (``from_``) are written under their alias (``from``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Record"]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)
