"""API tokens' rows: made, looked up by id, listed, revoked; the secret itself is never stored,
only its SHA-256 (a token carries 256 random bits, so a fast hash is enough)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from . import tables as t

__all__ = ["TokenRecords"]


class TokenRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, row: dict[str, Any]) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(t.api_tokens), [row])

    def get(self, token_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.api_tokens).where(t.api_tokens.c.token_id == token_id)).mappings().first()
        return dict(row) if row else None

    def all(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.api_tokens).order_by(t.api_tokens.c.created_at)).mappings().all()
        return [dict(r) for r in rows]

    def count_active(self, now: int) -> int:
        c = t.api_tokens.c
        q = select(func.count()).where(c.revoked_at.is_(None), (c.expires_at.is_(None)) | (c.expires_at > now))
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def revoke(self, token_id: str, now: int) -> bool:
        c = t.api_tokens.c
        with self._engine.begin() as conn:
            found = conn.execute(
                update(t.api_tokens).where(c.token_id == token_id, c.revoked_at.is_(None)).values(revoked_at=now)
            ).rowcount
        return bool(found)

    def touch(self, token_id: str, now: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(t.api_tokens).where(t.api_tokens.c.token_id == token_id).values(last_used_at=now))
