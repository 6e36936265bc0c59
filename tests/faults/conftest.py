"""The collection tests' real Prometheus server, for the outage test's PromQL source."""

from ..collect.conftest import prometheus_server  # noqa: F401  (a fixture, shared)
