"""The scrape source: reads a Prometheus exposition endpoint and turns its counters, gauges and
histograms into the six fields, using the differences between two consecutive scrapes.

Counters only mean something as differences, so the first scrape yields the gauges (memory,
active users) and remembers the counters; every later scrape yields rates over the time since the
previous one. A counter that went down was reset (the target restarted): its new value is the
increase since the reset.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import httpx

from plugin_ai_analytics.collect.base import PrometheusMapping
from plugin_ai_analytics.errors import SourceError
from plugin_ai_analytics.logs import log_event
from plugin_ai_analytics.security.outbound import Allowlist, OutboundRefused, guarded_request

__all__ = ["Exposition", "ScrapeSource", "histogram_quantile", "read_exposition"]

_MIB = 1024 * 1024


@dataclass(slots=True)
class Exposition:
    """The totals one scrape contributes, after the label filter, summed over matching series."""

    cpu_seconds: float | None = None
    resident_bytes: float | None = None
    duration_sum: float | None = None
    duration_count: float | None = None
    duration_buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative
    duration_p95: float | None = None  # a summary's own 0.95 quantile, when it exposes one
    requests: float | None = None
    errors: float | None = None
    active_users: float | None = None


def _add(current: float | None, value: float) -> float:
    return value if current is None else current + value


def read_exposition(text: str, mapping: PrometheusMapping, labels: Mapping[str, str] | None = None) -> Exposition:
    """Parse exposition ``text`` and total what ``mapping`` names; ``ValueError`` if unparsable."""
    # start-up cost: the exposition parser loads with the first scrape
    from prometheus_client.parser import text_string_to_metric_families

    labels = labels or {}
    error_re = re.compile(mapping.error_status)
    duration = mapping.request_duration
    requests = mapping.requests_total
    # A counter's samples end in _total whether or not the configured name does.
    requests_names = {requests, requests + "_total"} if not requests.endswith("_total") else {requests}
    cpu_names = {mapping.cpu_seconds}
    out = Exposition()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, sample_labels, value = sample.name, sample.labels, sample.value
            if math.isnan(value):
                continue
            if any(k in sample_labels and sample_labels[k] != v for k, v in labels.items()):
                continue
            if name in cpu_names:
                out.cpu_seconds = _add(out.cpu_seconds, value)
            elif name == mapping.resident_memory:
                out.resident_bytes = _add(out.resident_bytes, value)
            elif name == duration + "_sum":
                out.duration_sum = _add(out.duration_sum, value)
            elif name == duration + "_count":
                out.duration_count = _add(out.duration_count, value)
            elif name == duration + "_bucket":
                bound = float(sample_labels["le"])
                out.duration_buckets[bound] = out.duration_buckets.get(bound, 0.0) + value
            elif name == duration and sample_labels.get("quantile") == "0.95":
                # Summaries over several series cannot be combined; keep the largest as the bound.
                out.duration_p95 = value if out.duration_p95 is None else max(out.duration_p95, value)
            elif name in requests_names:
                out.requests = _add(out.requests, value)
                status = sample_labels.get(mapping.status_label)
                if status is not None:
                    out.errors = _add(out.errors, value if error_re.fullmatch(status) else 0.0)
            elif name == mapping.active_users:
                out.active_users = _add(out.active_users, value)
    return out


def _increase(now: float | None, before: float | None, *, born_at_zero: bool = False) -> float | None:
    """Counter increase between two readings; a decrease means the counter was reset to zero.

    With ``born_at_zero``, a series absent from the previous scrape counts from zero: labelled
    request series (a first 500, a new handler) appear only when first incremented.
    """
    if now is None:
        return None
    if before is None:
        return now if born_at_zero else None
    return now if now < before else now - before


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of cumulative ``(upper_bound, count)`` buckets, interpolated linearly
    inside the bucket that holds it, as Prometheus' ``histogram_quantile`` does."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                # Past the last finite bucket nothing is known but the bound below it.
                return lower_bound
            width = count - lower_count
            if width <= 0:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / width
        lower_bound, lower_count = bound, count
    return ordered[-1][0]


class ScrapeSource:
    """Scrapes ``url`` and maps it onto the metric fields; keep one instance per plugin."""

    def __init__(
        self,
        url: str,
        *,
        mapping: PrometheusMapping | None = None,
        labels: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        allow: Allowlist | None = None,
    ) -> None:
        self.url = url
        self._headers = {"Accept": "text/plain", **(headers or {})}
        self._allow = allow
        self.mapping = mapping or PrometheusMapping()
        self.labels = dict(labels or {})
        self.timeout = timeout
        self._previous: Exposition | None = None
        self._previous_at: float | None = None

    def _failed(self, reason: str) -> SourceError:
        # The caller learns only that no exposition came back: what the target answered (or that
        # nothing listens there) goes to the server log, so a source URL is no port scanner and
        # no way to read another local page through the API.
        log_event(logging.WARNING, "collect", f"scrape {self.url}: {reason}")
        return SourceError(f"scrape {self.url}: not a Prometheus exposition answer (the reason is in the server log)")

    def _fetch(self) -> str:
        try:
            with httpx.Client(timeout=self.timeout) as client:
                response = guarded_request(client, "GET", self.url, self._allow, headers=self._headers)
        except OutboundRefused:
            raise
        except httpx.HTTPError as exc:
            raise self._failed(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise self._failed(f"HTTP {response.status_code}")
        return response.text

    def collect(self) -> dict[str, float | int | None]:
        text = self._fetch()
        now = time.monotonic()
        try:
            current = read_exposition(text, self.mapping, self.labels)
        except (ValueError, KeyError) as exc:
            raise self._failed(f"unparsable exposition ({type(exc).__name__})") from None
        values: dict[str, float | int | None] = {}
        if current.resident_bytes is not None:
            values["memory_mb"] = current.resident_bytes / _MIB
        if current.active_users is not None:
            values["active_users"] = round(current.active_users)
        previous, previous_at = self._previous, self._previous_at
        self._previous, self._previous_at = current, now
        if previous is None or previous_at is None or now <= previous_at:
            return values
        values.update(_rates(previous, current, now - previous_at))
        return values


def _rates(before: Exposition, now: Exposition, elapsed: float) -> dict[str, float | int | None]:
    values: dict[str, float | int | None] = {}
    cpu = _increase(now.cpu_seconds, before.cpu_seconds)
    if cpu is not None:
        values["cpu_percent"] = 100.0 * cpu / elapsed
    count = _increase(now.duration_count, before.duration_count, born_at_zero=True)
    total = _increase(now.duration_sum, before.duration_sum, born_at_zero=True)
    if count is not None and total is not None and count > 0:
        values["response_time_ms"] = 1000.0 * total / count
    if now.duration_buckets and count:
        reset = (now.duration_count or 0.0) < (before.duration_count or 0.0)
        deltas = [
            (bound, cumulative if reset else cumulative - before.duration_buckets.get(bound, 0.0))
            for bound, cumulative in now.duration_buckets.items()
        ]
        p95 = histogram_quantile(0.95, deltas)
        if p95 is not None:
            values["response_time_p95_ms"] = 1000.0 * p95
    elif now.duration_p95 is not None:
        values["response_time_p95_ms"] = 1000.0 * now.duration_p95
    requests = _increase(now.requests, before.requests, born_at_zero=True)
    if requests is None:
        requests = count  # no request counter: every timed request is one request
    if requests is not None:
        values["request_count"] = round(requests)
        errors_reset = now.requests is not None and before.requests is not None and now.requests < before.requests
        errors = now.errors if errors_reset else _increase(now.errors, before.errors, born_at_zero=True)
        if errors is not None and requests > 0:
            values["error_rate"] = min(1.0, max(0.0, errors / requests))
    return values
