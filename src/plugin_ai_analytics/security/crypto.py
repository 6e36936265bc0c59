"""Secrets at rest: source credentials, webhook secrets, SMTP passwords and free-text plugin
metadata are stored as ``enc:v1:<Fernet token>`` (AES-128-CBC + HMAC-SHA256, from the
``cryptography`` package). The keys come from ``AI_ANALYTICS_SECRET_KEY`` (comma-separated,
newest first) or a key file (one key a line, newest first; made with mode 0600 on first start).
Every key decrypts; the first encrypts: that is what makes rotation possible without downtime.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..errors import AnalyticsError

__all__ = ["SecretBox", "ENCRYPTED_PREFIX", "KeyError_", "load_keys", "new_key", "write_key_file"]

ENCRYPTED_PREFIX = "enc:v1:"


class KeyError_(AnalyticsError):  # noqa: N801 - "KeyError" is a builtin
    """Raised when a stored secret cannot be decrypted with any configured key, or no key is usable."""

    code = "key_error"


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def write_key_file(path: Path, keys: Iterable[str]) -> None:
    """Write ``keys`` (newest first) readable by the owner only, replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write("\n".join(keys) + "\n")
    os.replace(tmp, path)


def load_keys(env_value: str | None, key_file: Path, *, create: bool = True) -> list[str]:
    """The keys, newest first: from the environment if set, else from the key file (made with one
    fresh key when missing and ``create``)."""
    if env_value:
        keys = [k.strip() for k in env_value.split(",") if k.strip()]
    elif key_file.exists():
        keys = [line.strip() for line in key_file.read_text(encoding="ascii").splitlines() if line.strip()]
    elif create:
        keys = [new_key()]
        write_key_file(key_file, keys)
    else:
        keys = []
    if not keys:
        raise KeyError_(f"no encryption key: set AI_ANALYTICS_SECRET_KEY or write one to {key_file}")
    return keys


class SecretBox:
    """Encrypts and decrypts short texts with the configured keys."""

    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in keys])
        except (ValueError, TypeError) as exc:
            raise KeyError_(f"an encryption key is not a Fernet key (32 url-safe base64 bytes): {exc}") from None

    @staticmethod
    def is_encrypted(value: object) -> bool:
        return isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX)

    def encrypt(self, text: str) -> str:
        if self.is_encrypted(text):
            return text
        return ENCRYPTED_PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, value: str) -> str:
        """The plain text of a stored value (a value never encrypted is returned as it is)."""
        if not self.is_encrypted(value):
            return value
        try:
            return self._fernet.decrypt(value[len(ENCRYPTED_PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise KeyError_("a stored secret cannot be decrypted with any configured key") from None

    def rotate(self, value: str) -> str:
        """The value re-encrypted with the newest key (plain text is encrypted)."""
        if not self.is_encrypted(value):
            return self.encrypt(value)
        token = value[len(ENCRYPTED_PREFIX) :].encode("ascii")
        try:
            return ENCRYPTED_PREFIX + self._fernet.rotate(token).decode("ascii")
        except InvalidToken:
            raise KeyError_("a stored secret cannot be decrypted with any configured key") from None
