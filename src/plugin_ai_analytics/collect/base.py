"""The contract every pull source honours (``Source.collect``) and the source configuration as
stored in the plugin registry: a discriminated union on ``type`` (process, prometheus, promql),
validated once. ``sources.build_source`` turns a configuration into a live source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugin_ai_analytics.domain import METRIC_NAMES
from plugin_ai_analytics.errors import ValidationError

__all__ = [
    "BasicAuth",
    "MetricValues",
    "ProcessSourceConfig",
    "PrometheusMapping",
    "PrometheusSourceConfig",
    "PromQLSourceConfig",
    "ReplaySourceConfig",
    "Source",
    "SourceConfig",
    "parse_source_config",
]

MetricValues = dict[str, float | int | None]


@runtime_checkable
class Source(Protocol):
    """A place metrics can be read from, now.

    ``collect()`` measures at the moment it is called and returns metric values by name
    (a metric the source cannot know is absent or None); it raises ``SourceError`` with a message
    an operator can act on when the source cannot be read. A source may keep state between calls
    (rates need the previous reading), so the caller keeps one instance per plugin.
    """

    def collect(self) -> MetricValues: ...


def _check_regex(value: str, what: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{what} is not a valid regular expression: {exc}") from None
    return value


def _check_http_url(value: str) -> str:
    import httpx  # only configurations with URLs pay for it

    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


class _Config(BaseModel):
    # A typo in a stored configuration must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProcessSourceConfig(_Config):
    """Local process(es) read with psutil, chosen by exactly one of ``pid``, ``name`` or ``cmdline``.

    ``name`` matches the process name exactly; ``cmdline`` is a regular expression searched in the
    space-joined command line. When several processes match, their CPU and memory are summed.
    """

    type: Literal["process"] = "process"
    pid: int | None = Field(default=None, gt=0)
    name: str | None = Field(default=None, min_length=1)
    cmdline: str | None = Field(default=None, min_length=1)

    @field_validator("cmdline")
    @classmethod
    def _cmdline_is_regex(cls, value: str | None) -> str | None:
        return None if value is None else _check_regex(value, "cmdline")

    @model_validator(mode="after")
    def _exactly_one_selector(self) -> ProcessSourceConfig:
        given = [k for k in ("pid", "name", "cmdline") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of pid, name or cmdline (got {', '.join(given) or 'none'})")
        return self


class PrometheusMapping(_Config):
    """Which exposition names feed which fields. Defaults follow the common conventions
    (client_python's process collector and the usual HTTP middleware names)."""

    cpu_seconds: str = "process_cpu_seconds_total"
    resident_memory: str = "process_resident_memory_bytes"
    # Histogram or summary in seconds (``_sum``, ``_count``, and ``_bucket`` for a histogram).
    request_duration: str = "http_request_duration_seconds"
    # Counter of requests, labelled with the response status.
    requests_total: str = "http_requests_total"
    status_label: str = "status"
    # Statuses that count as errors: a regular expression matched against the whole label value.
    error_status: str = "5.."
    active_users: str = "active_users"

    @field_validator("error_status")
    @classmethod
    def _error_status_is_regex(cls, value: str) -> str:
        return _check_regex(value, "error_status")


class BasicAuth(_Config):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(max_length=4096)


class _HTTPCredentials(_Config):
    """Credentials for an HTTP source, encrypted at rest and never returned by the API. A
    ``user:password@`` in the URL is moved here, so the stored URL carries none."""

    bearer_token: str | None = Field(default=None, max_length=4096, description="sent as Authorization: Bearer")
    basic_auth: BasicAuth | None = None

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("url"), str) or "@" not in data["url"]:
            return data
        import httpx  # only configurations with URLs pay for it

        try:
            url = httpx.URL(data["url"])
        except (httpx.InvalidURL, TypeError):
            return data
        if not url.username:
            return data
        out = dict(data)
        out["url"] = str(url.copy_with(username=None, password=None))
        out.setdefault("basic_auth", {"username": url.username, "password": url.password or ""})
        return out

    def auth_headers(self) -> dict[str, str]:
        if self.bearer_token:
            return {"Authorization": f"Bearer {self.bearer_token}"}
        if self.basic_auth is not None:
            import base64  # only sources with basic auth pay for it

            pair = f"{self.basic_auth.username}:{self.basic_auth.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}


class PrometheusSourceConfig(_HTTPCredentials):
    """A Prometheus exposition endpoint (``/metrics``) scraped directly.

    ``labels`` keeps only series whose labels agree with it; series that do not carry a filtered
    label at all (typically the unlabelled process_* metrics) are kept.
    """

    type: Literal["prometheus"]
    url: str
    mapping: PrometheusMapping = PrometheusMapping()
    labels: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=5.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return _check_http_url(value)


class PromQLSourceConfig(_HTTPCredentials):
    """An existing Prometheus server, asked one instant PromQL query per field."""

    type: Literal["promql"]
    url: str
    queries: dict[str, str] = Field(min_length=1)
    timeout: float = Field(default=5.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("queries")
    @classmethod
    def _queries_name_metrics(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(METRIC_NAMES))
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRIC_NAMES)}")
        empty = sorted(k for k, q in value.items() if not q.strip())
        if empty:
            raise ValueError(f"empty query for {', '.join(empty)}")
        return value


class ReplaySourceConfig(_Config):
    """A recorded metric series (CSV of ``timestamp`` and a value column) played back in real time,
    continuing the history imported from it: at any moment it reads the recorded value as far into
    the recording as ``ends_at`` (where the imported history stopped) lies in the past, the
    recording starting over when it runs out. For demonstrations and rehearsals on real data."""

    type: Literal["replay"]
    path: str = Field(min_length=1, description="the recording: a CSV file with timestamp and value columns")
    column: str = Field(default="value", min_length=1)
    metric: str = Field(description="the metric the recording measures")
    ends_at: float = Field(gt=0, description="epoch seconds: the imported history's last sample (the recording's end)")

    @field_validator("metric")
    @classmethod
    def _metric_is_known(cls, value: str) -> str:
        if value not in METRIC_NAMES:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(METRIC_NAMES)}")
        return value


SourceConfig = Annotated[
    ProcessSourceConfig | PrometheusSourceConfig | PromQLSourceConfig | ReplaySourceConfig,
    Field(discriminator="type"),
]

_ADAPTER: pydantic.TypeAdapter[Any] | None = None


def parse_source_config(data: Mapping[str, Any], *, field_prefix: str = "source") -> SourceConfig:
    """Validate a source configuration (API JSON or YAML mapping).

    Raises ``ValidationError`` whose ``field`` is the dotted path of the first bad field, e.g.
    ``source.pid`` or ``source.mapping.error_status``.
    """
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = pydantic.TypeAdapter(SourceConfig)
    try:
        return _ADAPTER.validate_python(dict(data) if isinstance(data, Mapping) else data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        # In a discriminated union pydantic puts the tag first; the operator never wrote it.
        if loc and loc[0] in ("process", "prometheus", "promql", "replay"):
            loc = loc[1:]
        path = ".".join([field_prefix, *loc]) if field_prefix else ".".join(loc)
        if first["type"] == "union_tag_invalid" or first["type"] == "union_tag_not_found":
            path = f"{field_prefix}.type" if field_prefix else "type"
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationError(f"{path}: {message}", field=path) from None
