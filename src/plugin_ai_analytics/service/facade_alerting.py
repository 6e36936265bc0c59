"""The facade's alerting calls (docs/alerting.md): what fires and where it went, silences, and the
configuration of contact points and policies, each handed to the ``Alerting`` part. A mixin of
``AnalyticsService``, kept apart so the facade stays one screenful per concern."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..schemas import (
    AlertingConfigView,
    AlertList,
    ContactPointView,
    Delivery,
    DeliveryList,
    Silence,
    SilenceList,
)

if TYPE_CHECKING:
    from .alerting import Alerting
    from .exposition import Exposition

__all__ = ["AlertingCalls"]


class AlertingCalls:
    alerting: Alerting
    exposition: Exposition

    def alerts(self, **query: Any) -> AlertList:
        """Alerts: ``state``, ``plugin_id``, ``severity``, ``rule``, ``limit``, ``offset``."""
        return self.alerting.alerts(**query)

    def alert_deliveries(self, **query: Any) -> DeliveryList:
        """The delivery log: ``state``, ``contact_point``, ``limit``, ``before_id``."""
        return self.alerting.deliveries(**query)

    def retry_alert_delivery(self, outbox_id: int) -> Delivery:
        return self.alerting.retry_delivery(outbox_id)

    def alert_silences(self, include_expired: bool = True) -> SilenceList:
        return self.alerting.silences(include_expired=include_expired)

    def create_alert_silence(self, body: dict[str, Any]) -> Silence:
        return self.alerting.create_silence(body)

    def expire_alert_silence(self, silence_id: str) -> Silence:
        return self.alerting.expire_silence(silence_id)

    def alerting_config(self) -> AlertingConfigView:
        return self.alerting.config()

    def replace_alerting_config(self, document: dict[str, Any]) -> AlertingConfigView:
        return self.alerting.replace_config(document)

    def load_alerting_file(self, path: Path) -> AlertingConfigView:
        return self.alerting.load_file(path)

    def put_contact_point(self, name: str, body: dict[str, Any]) -> tuple[ContactPointView, bool]:
        return self.alerting.put_contact_point(name, body)

    def delete_contact_point(self, name: str) -> None:
        self.alerting.delete_contact_point(name)

    def put_alert_policies(self, policies: Any) -> list[dict[str, Any]]:
        return self.alerting.put_policies(policies)

    def metric_families(self) -> list[dict[str, Any]]:
        """Per-plugin series for ``/metrics``: forecasts, anomaly scores, open events, accuracy."""
        return self.exposition.families()
