"""The PromQL source: asks an existing Prometheus server one instant query per field
(``GET {url}/api/v1/query``) and reads scalar or vector answers (a vector is summed).

An empty vector means "no data" and leaves the field absent; a failed query is an error that
names its field, so an operator can tell which of the configured queries to fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from plugin_ai_analytics.domain import metric_spec
from plugin_ai_analytics.errors import SourceError

__all__ = ["PromQLSource"]


class PromQLSource:
    """Reads the fields named in ``queries`` from the Prometheus server at ``url``."""

    def __init__(self, url: str, queries: Mapping[str, str], *, timeout: float = 5.0) -> None:
        for name in queries:
            metric_spec(name)  # KeyError names an unknown metric before any query runs
        self.url = url.rstrip("/")
        self.queries = dict(queries)
        self.timeout = timeout

    def _query(self, client: httpx.Client, query: str) -> float | None:
        """The value of one instant query; ``ValueError`` carries Prometheus' own explanation."""
        try:
            response = client.get(f"{self.url}/api/v1/query", params={"query": query})
        except httpx.HTTPError as exc:
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise ValueError(f"HTTP {response.status_code}, not a Prometheus API answer") from None
        if body.get("status") != "success":
            raise ValueError(f"{body.get('errorType', 'error')}: {body.get('error', response.status_code)}")
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
