"""The service's own series on ``/metrics`` (forecasts, anomaly scores, open events, accuracy,
alerting), asked of the service on each scrape and handed to ``prometheus_client`` as families."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["ServiceSeries"]


class ServiceSeries:
    """A ``prometheus_client`` collector over ``AnalyticsService.metric_families``."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def describe(self) -> list[Metric]:
        return []  # registered without a trial collect: the service may not be up yet

    def collect(self) -> Iterator[Metric]:
        service: Any = getattr(self._app.state, "service", None)
        if service is None:
            return
        for family in service.metric_families():
            names = sorted(family["samples"][0][0]) if family["samples"] else []
            kind = CounterMetricFamily if family["type"] == "counter" else GaugeMetricFamily
            metric = kind(family["name"], family["help"], labels=names)
            for labels, value in family["samples"]:
                metric.add_metric([str(labels[n]) for n in names], float(value))
            yield metric
