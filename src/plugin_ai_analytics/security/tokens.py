"""API tokens: made with a role (and optionally plugin patterns and an expiry), shown once,
kept as a SHA-256 of the secret, checked in constant time, revocable. A verified token is held
in memory for a few seconds so a busy client costs no query per request; a revocation is seen
by every replica within that time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

from ..errors import NotFound, ValidationError
from ..store.tokens import TokenRecords
from ..times import DAY_MS, now_ms
from .roles import ROLES, Identity

__all__ = ["Tokens", "TOKEN_PREFIX"]

TOKEN_PREFIX = "paa"
_CACHE_SECONDS = 5.0
_TOUCH_MS = 60_000  # last_used_at is written at most once a minute per token


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Tokens:
    def __init__(self, records: TokenRecords, *, admin_token: str | None = None) -> None:
        self._records = records
        self._admin_hash = _hash(admin_token) if admin_token else None
        self._cache: dict[str, tuple[float, Identity | None]] = {}
        self._touched: dict[str, int] = {}
        self._lock = threading.Lock()

    def create(
        self,
        name: str,
        role: str,
        *,
        plugins: list[str] | None = None,
        expires_in_days: float | None = None,
        created_by: str = "cli",
        expires_at: int | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Make a token; returns the token (shown once, never again) and its public record."""
        if role not in ROLES:
            raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")
        if not name.strip() or len(name) > 128:
            raise ValidationError("name must be 1-128 characters", field="name")
        now = now_ms()
        if expires_in_days is not None:
            expires_at = now + int(expires_in_days * DAY_MS)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = {
            "token_id": token_id,
            "name": name.strip(),
            "role": role,
            "plugins": sorted(set(plugins)) if plugins else None,
            "secret_hash": _hash(secret),
            "created_at": now,
            "created_by": created_by,
            "expires_at": expires_at,
            "last_used_at": None,
            "revoked_at": None,
        }
        self._records.create(row)
        return f"{TOKEN_PREFIX}_{token_id}_{secret}", public_token(row)

    def list(self) -> list[dict[str, Any]]:
        return [public_token(r) for r in self._records.all()]

    def revoke(self, token_id: str) -> None:
        if not self._records.revoke(token_id, now_ms()):
            raise NotFound(f"no active token {token_id!r}", token_id=token_id)
        with self._lock:
            self._cache.clear()

    def has_active(self) -> bool:
        return self._admin_hash is not None or self._records.count_active(now_ms()) > 0

    def answered_from_memory(self, token: str) -> bool:
        """Whether ``verify(token)`` needs no database query now (the admin token, or held)."""
        key = _hash(token)
        if self._admin_hash is not None and hmac.compare_digest(key, self._admin_hash):
            return True
        with self._lock:
            held = self._cache.get(key)
        return held is not None and time.monotonic() - held[0] < _CACHE_SECONDS

    def verify(self, token: str) -> Identity | None:
        """The identity a presented token stands for, or None (unknown, wrong, expired, revoked)."""
        key = _hash(token)
        clock = time.monotonic()
        with self._lock:
            held = self._cache.get(key)
        if held is not None and clock - held[0] < _CACHE_SECONDS:
            identity = held[1]
        else:
            identity = self._lookup(token, key)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()  # bounded: a flood of made-up tokens cannot grow it
                self._cache[key] = (clock, identity)
        return identity

    def _lookup(self, token: str, key: str) -> Identity | None:
        if self._admin_hash is not None and hmac.compare_digest(key, self._admin_hash):
            return Identity(actor="admin-token", role="admin", via="admin-token")
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        row = self._records.get(parts[1])
        if row is None or not hmac.compare_digest(row["secret_hash"], _hash(parts[2])):
            return None
        now = now_ms()
        if row["revoked_at"] is not None or (row["expires_at"] is not None and row["expires_at"] <= now):
            return None
        if now - self._touched.get(row["token_id"], 0) > _TOUCH_MS:
            self._touched[row["token_id"]] = now
            self._records.touch(row["token_id"], now)
        plugins = tuple(row["plugins"]) if row["plugins"] else None
        return Identity(actor=f"token:{row['token_id']}:{row['name']}", role=row["role"], plugins=plugins)


def public_token(row: dict[str, Any]) -> dict[str, Any]:
    """A token's record without its hash."""
    return {k: v for k, v in row.items() if k != "secret_hash"}
