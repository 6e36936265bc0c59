"""Personal data masked wherever text leaves the service for someone not entitled to it (logs,
default exports): e-mail addresses, IP addresses (loopback and unspecified excepted), user ids
written as ``user_id=…``, and API or bearer tokens."""

from __future__ import annotations

import logging
import re

__all__ = ["mask", "MaskingFilter"]

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.])")
_H = "[0-9A-Fa-f]{1,4}"
# full (eight groups) or compressed (with ``::``): clock times such as 10:00:00 are neither
_IPV6 = re.compile(
    rf"(?<![0-9A-Fa-f:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,6}}:(?:{_H}:){{0,5}}{_H}|::(?:{_H}:){{0,5}}{_H})(?![0-9A-Fa-f:])"
)
_USER_ID = re.compile(r"(?i)\b(user[_-]?id|uid|user[_-]?name|login)(\"?\s*[=:]\s*\"?)([^\s\",;&]+)")
_TOKEN = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}|\bpaa_[0-9a-f]{12}_[A-Za-z0-9_-]+")
_KEEP_IPS = {"127.0.0.1", "0.0.0.0", "::1"}


def _ip(match: re.Match[str]) -> str:
    return match.group(0) if match.group(0) in _KEEP_IPS else "[ip]"


def _token(match: re.Match[str]) -> str:
    return (match.group(1) or "") + "[token]"


def mask(text: str) -> str:
    """``text`` with personal data and credentials replaced by ``[email]``, ``[ip]``, ``[user]``, ``[token]``."""
    if not text:
        return text
    text = _TOKEN.sub(_token, text)
    text = _EMAIL.sub("[email]", text)
    text = _IPV4.sub(_ip, text)
    text = _IPV6.sub(_ip, text)
    return _USER_ID.sub(lambda m: m.group(1) + m.group(2) + "[user]", text)


class MaskingFilter(logging.Filter):
    """Masks each record's formatted message before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
