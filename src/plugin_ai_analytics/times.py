"""Time in the service: epoch milliseconds (UTC) inside, ISO-8601 only at the edge.

Every conversion between the two, and the durations the service reasons in, live here once.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from .errors import ValidationError

__all__ = [
    "DATE_TIME",
    "DAY_MS",
    "HOUR_MS",
    "iso_many",
    "ms_to_iso",
    "now_ms",
    "parse_date_time",
    "parse_resolution",
    "RESOLUTION_PATTERN",
    "to_ms",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def to_ms(moment: datetime | str | float | int | None) -> int | None:
    """Epoch milliseconds of an ISO-8601 string, a datetime or epoch seconds (UTC if no zone)."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, int | float):
        return int(moment * 1000)
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.upper().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"not an ISO-8601 time: {moment!r}", field="time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# What the API accepts as a point in time: an RFC 3339 date-time whose zone may be left out (UTC).
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$")


def parse_date_time(text: str) -> datetime:
    """A ``DATE_TIME`` string as a datetime (naive when it names no zone); ``ValueError`` if it
    is not one or names an impossible date."""
    if not DATE_TIME.match(text):
        raise ValueError("not an ISO-8601 date-time such as 2026-11-27T10:00:00Z")
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not a valid date-time (month, day or time out of range)") from None


def ms_to_iso(ms: int | None) -> str | None:
    """``2026-11-27T10:00:00Z`` (a fraction only when there is one); None stays None."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def iso_many(ms: list[int]) -> list[str]:
    """``ms_to_iso`` of many timestamps at once (the same strings), for forecasts' hundreds of points."""
    import numpy as np  # start-up cost: the CLI and the API's import path need no numpy until here

    stamps = np.asarray(ms, dtype=np.int64)
    text = np.datetime_as_string(stamps.astype("datetime64[ms]").astype("datetime64[us]"), unit="us")
    whole = (stamps % 1000) == 0
    # isoformat() leaves the fraction out when it is zero; keep the strings identical.
    return [(t[:19] if w else t) + "Z" for t, w in zip(text.tolist(), whole.tolist(), strict=True)]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Whole numbers of one unit, each at most 1000 days (so every value the pattern admits is
# accepted: the API's schema states this pattern and a client generated from it never hears 422).
RESOLUTION_PATTERN = r"^(raw|[1-9][0-9]{0,6}s?|[1-9][0-9]{0,5}m|[1-9][0-9]{0,3}h|[1-9][0-9]{0,2}d)$"
_RESOLUTION = re.compile(RESOLUTION_PATTERN)


def parse_resolution(value: str | None) -> int | None:
    """``raw``/None → None; ``300``/``300s``/``5m``/``1h``/``1d`` → milliseconds."""
    if value is None or value in ("", "raw"):
        return None
    if not _RESOLUTION.match(value):
        raise ValidationError(
            f"resolution {value!r} is not 'raw' or a whole duration like 300s, 5m, 1h, 1d (at most 1000 days)",
            field="resolution",
        )
    unit = _UNITS.get(value[-1], 1)
    return int(value.rstrip("smhd")) * unit * 1000
