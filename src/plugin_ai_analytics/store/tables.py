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
    "batch_parts",
    "audit_log",
    "api_tokens",
    "alerts",
    "alert_groups",
    "alert_outbox",
    "alert_silences",
    "alert_contact_points",
    "alerting_config",
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
    Column("labels", JSON, nullable=True),  # {name: value}: alert routing and silences match on them
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
    Column("status", String(16), nullable=False),  # queued / running / succeeded / failed / cancelled
    Column("progress", Float, nullable=False, default=0.0),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_jobs_created", "created_at"),
)

# One row per plugin of a batch job whose parts run as separate tasks (the Celery executor): the
# key makes a re-delivered part unable to store a second result; ``steps`` ({done, partial}) are the analyses
# already committed, so a part retried after its worker died goes on from there.
batch_parts = Table(
    "batch_parts",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("plugin_id", String(128), primary_key=True),
    Column("steps", JSON, nullable=False),
    Column("result", JSON(none_as_null=True), nullable=True),  # SQL NULL until the part finished
    Column("worker", String(255), nullable=True),
    Column("attempts", Integer, nullable=False, default=1),
    Column("updated_at", BigInteger, nullable=False),
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

# -- alerting (docs/alerting.md) --------------------------------------------------------------

# One row per alert (a condition of a plugin or of the service), firing or resolved, by fingerprint.
alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("plugin_id", String(128), nullable=True),  # None: the service itself
    Column("metric", String(64), nullable=True),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),  # firing / resolved
    Column("summary", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("actions", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("source_key", String(128), nullable=True),  # e.g. the anomaly event that raised it
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_alerts_state_updated", "state", "updated_at"),
    Index("ix_alerts_plugin", "plugin_id"),
)

# A notification group (policy x contact point x group labels): when it is due to notify and what
# its receiver was last told. A change to an alert marks its groups due in the same transaction.
alert_groups = Table(
    "alert_groups",
    metadata,
    Column("group_id", String(32), primary_key=True),
    Column("policy", String(64), nullable=False),
    Column("contact_point", String(64), nullable=False),
    Column("group_labels", JSON, nullable=False),
    Column("next_flush_at", BigInteger, nullable=True),
    Column("last_flush_at", BigInteger, nullable=True),
    Column("pending_since", BigInteger, nullable=True),  # the oldest change not notified yet
    Column("flushes", Integer, nullable=False, default=0),
    Column("notified", JSON, nullable=False),  # fingerprint -> severity the receiver knows as firing
    Column("created_at", BigInteger, nullable=False),
    Index("ix_alert_groups_due", "next_flush_at"),
)

# The outbox: every notification to deliver, with its idempotency key, attempts and the answers.
alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("group_id", String(32), nullable=False),
    Column("policy", String(64), nullable=False),
    Column("contact_point", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # firing / resolved: what the notification says
    Column("document", JSON, nullable=False),
    Column("alerts", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # pending / delivered / dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=True),
    Column("claimed_until", BigInteger, nullable=True),  # a worker is sending it until then
    Column("caused_at", BigInteger, nullable=False),  # the oldest change it notifies of
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    Column("last_status", String(32), nullable=True),
    Column("last_answer", Text, nullable=True),
    Column("attempt_log", JSON, nullable=False),
    Index("ix_alert_outbox_due", "state", "next_attempt_at"),
    Index("ix_alert_outbox_created", "created_at"),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    Column("silence_id", String(64), primary_key=True),
    Column("matchers", JSON, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_alert_silences_ends", "ends_at"),
)

alert_contact_points = Table(
    "alert_contact_points",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("settings", JSON, nullable=False),  # everything but the secrets
    # The secrets, each in a column of its own (to be encrypted at rest); the API never answers them.
    Column("secret_url", Text, nullable=True),
    Column("secret_signing_key", Text, nullable=True),
    Column("secret_smtp_password", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# The rest of the alerting configuration, one JSON document per part (policies, inhibit_rules,
# maintenance_windows).
alerting_config = Table(
    "alerting_config",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
