"""The tables of the store, as SQLAlchemy Core metadata shared by queries and migrations.

Timestamps are integer epoch milliseconds (UTC): bucketing for downsampling is then plain
integer arithmetic, identical in SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from ..domain import METRIC_NAMES

__all__ = [
    "metadata",
    "plugins",
    "metrics",
    "rejections",
    "predictions",
    "models",
    "anomalies",
    "detector_states",
    "interval_adaptation",
    "suggestions",
    "advice_runs",
    "jobs",
    "audit_log",
    "api_tokens",
]

metadata = MetaData()

plugins = Table(
    "plugins",
    metadata,
    Column("plugin_id", String(128), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("source", JSON, nullable=True),  # None: push-only plugin
    Column("interval_seconds", Float, nullable=False, default=60.0),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("memory_limit_mb", Float, nullable=True),
    Column("cpu_limit_percent", Float, nullable=True),  # the plugin's CPU allocation, 100 = one core
    Column("keep_history", Boolean, nullable=False, default=False),  # exempt from retention
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column("plugin_id", String(128), primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    *(Column(name, Float, nullable=True) for name in METRIC_NAMES),
)

# Every rejected batch leaves one row here, so data quality can report what was refused and why.
rejections = Table(
    "rejections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plugin_id", String(128), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("field", String(256), nullable=True),
    Column("message", Text, nullable=False),
    Column("samples", Integer, nullable=False),
    Index("ix_rejections_plugin_at", "plugin_id", "at"),
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plugin_id", String(128), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("made_at", BigInteger, nullable=False),
    Column("target_ts", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Column("lower_80", Float, nullable=False),
    Column("upper_80", Float, nullable=False),
    Column("lower_95", Float, nullable=False),
    Column("upper_95", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("clipped", Boolean, nullable=False, default=False),
    Column("model_id", String(128), nullable=False),
    Column("actual", Float, nullable=True),
    Column("scored_at", BigInteger, nullable=True),
    Index("ix_predictions_plugin_metric_target", "plugin_id", "metric", "target_ts"),
    Index("ix_predictions_made_at", "made_at"),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plugin_id", String(128), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("trained_at", BigInteger, nullable=False),
    Column("data_from", BigInteger, nullable=True),
    Column("data_to", BigInteger, nullable=True),
    Column("state", Text, nullable=False),  # JSON text; never pickle
    Column("checksum", String(64), nullable=False),  # sha256 of ``state``, verified on load
    Column("quality", JSON, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Index("ix_models_plugin_metric_version", "plugin_id", "metric", "version", unique=True),
)

anomalies = Table(
    "anomalies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plugin_id", String(128), nullable=False),
    Column("event_id", String(64), nullable=True),  # the detector's id of the incident
    Column("start_ts", BigInteger, nullable=False),
    Column("end_ts", BigInteger, nullable=True),
    Column("metrics", JSON, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("explanation", JSON, nullable=False),
    Column("actions", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # open / closed
    Column("feedback", String(16), nullable=True),  # false_alarm / confirmed
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_anomalies_plugin_start", "plugin_id", "start_ts"),
    Index("ix_anomalies_plugin_event", "plugin_id", "event_id", unique=True),
)

# The streaming detector of each plugin, so it survives restarts (JSON, checksummed, never pickled).
detector_states = Table(
    "detector_states",
    metadata,
    Column("plugin_id", String(128), primary_key=True),
    Column("state", Text, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("last_ts", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# The online correction of each plugin's forecast intervals, per metric: the factors applied to
# the model's 80 % / 95 % offsets, moved by every scored prediction (adaptive conformal
# inference), so a plugin's coverage keeps correcting itself across restarts and retrainings.
interval_adaptation = Table(
    "interval_adaptation",
    metadata,
    Column("plugin_id", String(128), primary_key=True),
    Column("metric", String(64), primary_key=True),
    Column("scale_80", Float, nullable=False),
    Column("scale_95", Float, nullable=False),
    Column("scored", Integer, nullable=False),  # scored predictions that have moved the factors
    Column("last_target_ts", BigInteger, nullable=True),  # newest target time among them
    Column("updated_at", BigInteger, nullable=False),
)

suggestions = Table(
    "suggestions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plugin_id", String(128), nullable=False),
    Column("finding", String(128), nullable=False),  # de-duplication key: same finding is updated
    Column("title", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("expected_effect", JSON, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_suggestions_plugin_finding", "plugin_id", "finding", unique=True),
)

# The newest optimisation analysis of each plugin: how many suggestions it found, or why none.
advice_runs = Table(
    "advice_runs",
    metadata,
    Column("plugin_id", String(128), primary_key=True),
    Column("at", BigInteger, nullable=False),
    Column("analysed_from", BigInteger, nullable=True),
    Column("analysed_to", BigInteger, nullable=True),
    Column("found", Integer, nullable=False),
    Column("not_analysed", JSON, nullable=False),  # [{analysis, reason}] that could not run
    Column("clear", JSON, nullable=False),  # [{analysis, reason}] that ran and found nothing
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("plugin_id", String(128), nullable=True),
    Column("status", String(16), nullable=False),  # queued / running / succeeded / failed
    Column("progress", Float, nullable=False, default=0.0),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_jobs_created", "created_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(128), nullable=False),
    Column("plugin_id", String(128), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("details", JSON, nullable=True),
    # the chain: each entry's hash covers its own fields and the hash of the entry before it
    Column("prev_hash", String(64), nullable=True),
    Column("entry_hash", String(64), nullable=True),
    Index("ix_audit_at", "at"),
)

# API tokens: only a hash of the secret is kept; the token itself is shown once, when made.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),  # viewer / operator / admin / ingest
    Column("plugins", JSON, nullable=True),  # None: every plugin; else plugin id patterns (globs)
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
)
