"""The store: tables, migrations and queries; SQLite and PostgreSQL behind one interface.

``Store`` opens the database and holds one set of queries per record kind, so a part of the
service takes just the kinds it works on (``store.metrics``, ``store.anomalies`` …). All SQL of
the project lives in this package; dialect differences only in ``database.py``.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager

from sqlalchemy import Engine, literal, select, text

from .adaptation import IntervalAdaptations
from .alert_config import AlertConfigRecords, SilenceRecords
from .alerts import AlertRecords
from .anomalies import AnomalyRecords, DetectorStates
from .audit import AuditRecords
from .batch_parts import BatchParts
from .database import DatabaseLimits, head_revision, make_engine, migrate, plugin_lock, statement_timeout
from .exports import EXPORT_KINDS, RecordExports
from .jobs import JobRecords
from .metrics import METRIC_COLUMNS, MetricRecords
from .models import ModelRecords
from .predictions import PREDICTION_COLUMNS, PredictionRecords
from .registry import FieldCipher, PluginRecords, RejectionRecords
from .retention import Expiry
from .suggestions import SuggestionRecords
from .tokens import TokenRecords

__all__ = [
    "EXPORT_KINDS",
    "AlertConfigRecords",
    "AlertRecords",
    "METRIC_COLUMNS",
    "PREDICTION_COLUMNS",
    "AnomalyRecords",
    "AuditRecords",
    "BatchParts",
    "DatabaseLimits",
    "DetectorStates",
    "Expiry",
    "FieldCipher",
    "IntervalAdaptations",
    "JobRecords",
    "MetricRecords",
    "ModelRecords",
    "PluginRecords",
    "PredictionRecords",
    "RecordExports",
    "RejectionRecords",
    "SilenceRecords",
    "Store",
    "SuggestionRecords",
    "TokenRecords",
    "statement_timeout",
]


# Connections for locks held across processes (per process; the main pool has 10 + 20).
LOCK_CONNECTIONS = 8


class Store:
    """The database behind the service: SQLite by default, PostgreSQL through ``DATABASE_URL``."""

    def __init__(
        self,
        url: str,
        *,
        run_migrations: bool = True,
        cipher: FieldCipher | None = None,
        limits: DatabaseLimits | None = None,
        checkpoint_pages: int = 1000,
    ) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, limits, checkpoint_pages=checkpoint_pages)
        self._lock_engine: Engine | None = None
        if run_migrations:
            migrate(self.engine)
        self.plugins = PluginRecords(self.engine, cipher)
        self.rejections = RejectionRecords(self.engine)
        self.metrics = MetricRecords(self.engine)
        self.models = ModelRecords(self.engine)
        self.predictions = PredictionRecords(self.engine)
        self.anomalies = AnomalyRecords(self.engine)
        self.detector_states = DetectorStates(self.engine)
        self.interval_adaptation = IntervalAdaptations(self.engine)
        self.suggestions = SuggestionRecords(self.engine)
        self.jobs = JobRecords(self.engine)
        self.batch_parts = BatchParts(self.engine)
        self.exports = RecordExports(self.engine)
        self.expiry = Expiry(self.engine)
        self.tokens = TokenRecords(self.engine)
        self.audit = AuditRecords(self.engine)
        self.alerts = AlertRecords(self.engine)
        self.alert_config = AlertConfigRecords(self.engine, cipher)
        self.silences = SilenceRecords(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()
        if self._lock_engine is not None:
            self._lock_engine.dispose()

    def plugin_lock(self, scope: str, plugin_id: str) -> AbstractContextManager[None]:
        """``scope``'s lock on one plugin across every process on this database (``database.plugin_lock``).

        Locks are held on connections of their own (a small pool, made on first use): a holder
        also needs a connection of the main pool for its work, so lock holders must never be able
        to take every connection of that pool and wait on each other."""
        if self._lock_engine is None:
            self._lock_engine = make_engine(self.url, pool_size=LOCK_CONNECTIONS, max_overflow=0)
        return plugin_lock(self._lock_engine, scope, plugin_id)

    def ping(self) -> float:
        """Round-trip time of a trivial query, in ms (raises if the database is down)."""
        start = time.perf_counter()
        with self.engine.connect() as conn:
            conn.execute(select(literal(1))).scalar_one()
        return (time.perf_counter() - start) * 1000

    def readiness(self, timeout: float) -> dict[str, object]:
        """Whether the database answers (within ``timeout`` per statement) and its schema is at
        the newest migration: ``{"latency_ms", "schema", "expected"}``; raises if unreachable."""
        start = time.perf_counter()
        with statement_timeout(timeout), self.engine.connect() as conn:
            schema = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
        return {
            "latency_ms": round((time.perf_counter() - start) * 1000, 2),
            "schema": schema,
            "expected": head_revision(),
        }
