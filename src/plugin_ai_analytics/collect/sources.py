"""Turning a source configuration into a live source: the one place that knows every kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..security.outbound import Allowlist
from .base import (
    ProcessSourceConfig,
    PrometheusSourceConfig,
    PromQLSourceConfig,
    ReplaySourceConfig,
    Source,
    SourceConfig,
    parse_source_config,
)
from .process import ProcessSource
from .promql import PromQLSource
from .replay import ReplaySource
from .scrape import ScrapeSource

__all__ = ["build_source"]


def build_source(config: SourceConfig | Mapping[str, Any], *, allow: Allowlist | None = None) -> Source:
    """A live source for ``config`` (a validated model, or a mapping validated here); HTTP sources
    go through the outbound guard with ``allow`` (None: unguarded, for a caller's own URL)."""
    if isinstance(config, Mapping):
        config = parse_source_config(config)
    if isinstance(config, ProcessSourceConfig):
        return ProcessSource(pid=config.pid, name=config.name, cmdline=config.cmdline)
    if isinstance(config, PrometheusSourceConfig):
        return ScrapeSource(
            config.url,
            mapping=config.mapping,
            labels=config.labels,
            timeout=config.timeout,
            headers=config.auth_headers(),
            allow=allow,
        )
    if isinstance(config, PromQLSourceConfig):
        return PromQLSource(
            config.url, config.queries, timeout=config.timeout, headers=config.auth_headers(), allow=allow
        )
    if isinstance(config, ReplaySourceConfig):
        return ReplaySource(config.path, config.column, config.metric, config.ends_at)
    raise TypeError(f"not a source configuration: {type(config).__name__}")
