"""The PromQL source: asks an existing Prometheus server one instant query per field
(``GET {url}/api/v1/query``) and reads scalar or vector answers (a vector is summed).

An empty vector means "no data" and leaves the field absent; a failed query is an error that
names its field, so an operator can tell which of the configured queries to fix.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import httpx

from plugin_ai_analytics.domain import metric_spec
from plugin_ai_analytics.errors import SourceError
from plugin_ai_analytics.logs import log_event
from plugin_ai_analytics.security.outbound import Allowlist, OutboundRefused, guarded_request

__all__ = ["PromQLSource"]

# errorType values of the Prometheus HTTP API
_PROMETHEUS_ERRORS = {"bad_data", "timeout", "canceled", "execution", "internal", "unavailable", "not_found"}


class PromQLSource:
    """Reads the fields named in ``queries`` from the Prometheus server at ``url``."""

    def __init__(
        self,
        url: str,
        queries: Mapping[str, str],
        *,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        allow: Allowlist | None = None,
    ) -> None:
        for name in queries:
            metric_spec(name)  # KeyError names an unknown metric before any query runs
        self.url = url.rstrip("/")
        self.queries = dict(queries)
        self.timeout = timeout
        self._headers = dict(headers or {})
        self._allow = allow

    def _query(self, client: httpx.Client, query: str) -> float | None:
        """The value of one instant query; ``ValueError`` carries Prometheus' own explanation."""
        try:
            response = guarded_request(
                client, "GET", f"{self.url}/api/v1/query", self._allow, params={"query": query}, headers=self._headers
            )
        except OutboundRefused:
            raise
        except httpx.HTTPError as exc:
            log_event(logging.WARNING, "collect", f"PromQL {self.url}: {type(exc).__name__}: {exc}")
            raise ConnectionError("no answer") from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            log_event(logging.WARNING, "collect", f"PromQL {self.url}: HTTP {response.status_code}, not JSON")
            raise ValueError("not a Prometheus API answer") from None
        if body.get("status") != "success":
            # Prometheus' own explanation of a bad query is passed on (the operator wrote the
            # query); anything else a server answered stays in the log.
            kind = body.get("errorType")
            if kind in _PROMETHEUS_ERRORS and isinstance(body.get("error"), str):
                raise ValueError(f"{kind}: {body['error'][:300]}")
            log_event(logging.WARNING, "collect", f"PromQL {self.url}: HTTP {response.status_code}, no API answer")
            raise ValueError("not a Prometheus API answer")
        data = body.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            value = float(result[1])
        elif kind == "vector":
            if not result:
                return None
            value = sum(float(item["value"][1]) for item in result)
        else:
            raise ValueError(f"query returns a {kind}; need a scalar or an instant vector")
        # NaN (0/0 over an idle interval) and infinities are "no value", not numbers to store.
        return value if math.isfinite(value) else None

    def collect(self) -> dict[str, float | int | None]:
        values: dict[str, float | int | None] = {}
        failures: dict[str, str] = {}
        with httpx.Client(timeout=self.timeout) as client:
            for name, query in self.queries.items():
                try:
                    value = self._query(client, query)
                except ConnectionError as exc:
                    # The server itself is unreachable: every other query would fail the same way.
                    raise SourceError(f"Prometheus at {self.url} unreachable ({exc})") from None
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    failures[name] = str(exc)
                    continue
                if value is not None and metric_spec(name).integer:
                    value = round(value)
                values[name] = value
        if failures:
            detail = "; ".join(f"{name}: {message}" for name, message in failures.items())
            raise SourceError(f"PromQL query failed for {detail}", fields=sorted(failures))
        return values
