"""Helpers every record kind's queries share: canonical JSON with its checksum, and keyset paging."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, and_, select

__all__ = ["canonical_json", "sha256_hex", "keyset_chunks"]


def canonical_json(value: Any) -> str:
    """One byte-exact text per value, so a checksum of it is stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def keyset_chunks(engine: Engine, columns: list[Any], key: Any, where: list[Any], chunk: int) -> Iterator[list[tuple]]:
    """Rows (tuples, in ``columns`` order) matching ``where`` ordered by the unique ``key``, ``chunk``
    at a time; each chunk is one short query, so a long stream never holds a connection or the
    whole result. ``key`` must be one of ``columns``."""
    position = [c.name for c in columns].index(key.name)
    after = None
    while True:
        conditions = [*where, key > after] if after is not None else where
        q = select(*columns).where(and_(*conditions)).order_by(key).limit(chunk)
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(q)]
        if not rows:
            return
        yield rows
        if len(rows) < chunk:
            return
        after = rows[-1][position]
