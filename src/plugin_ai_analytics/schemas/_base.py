"""The base of every response record: unknown fields are a bug, not something to pass along;
fields named like Python keywords (``from_``) are written under their alias (``from``).

Records are frozen: built once by the service, never changed, so their JSON is rendered once
and reused (a cached forecast is served many times; its 1,728 points are encoded once).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PrivateAttr

__all__ = ["Record"]


class Record(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    _json: bytes | None = PrivateAttr(default=None)

    def json_bytes(self) -> bytes:
        """The record as JSON, encoded on first use and kept."""
        if self._json is None:
            self._json = self.__pydantic_serializer__.to_json(self)
        return self._json
