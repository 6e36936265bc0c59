"""Settings from the environment and ``.env``, validated once at start-up.

One ``Settings`` object; a bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ValidationError as AnalyticsValidationError

if TYPE_CHECKING:
    from .store.database import DatabaseLimits

__all__ = ["Settings", "get_settings", "load_settings"]


class Settings(BaseSettings):
    """Every setting the service reads, with the SPEC's defaults."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=Path("data/ai_analytics"), alias="AI_ANALYTICS_DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    log_dir: Path = Field(default=Path("logs"), alias="AI_ANALYTICS_LOG_DIR")
    log_level: str = Field(default="INFO", alias="AI_ANALYTICS_LOG_LEVEL")

    model_retraining_interval_hours: float = Field(default=168.0, alias="MODEL_RETRAINING_INTERVAL", gt=0)
    prediction_horizon_hours: float = Field(default=24.0, alias="PREDICTION_HORIZON", gt=0, le=24 * 14)
    # The models a forecaster is chosen from: "baselines" (default, chosen leave-one-group-out) or
    # "all" (adds theta, MSTL, SES and the seed's RandomForest). docs/forecasting.md.
    forecast_models: Literal["baselines", "all"] = Field(default="baselines", alias="AI_ANALYTICS_FORECAST_MODELS")
    anomaly_detection_sensitivity: float = Field(default=0.1, alias="ANOMALY_DETECTION_SENSITIVITY", gt=0, lt=0.5)
    # Operational floors (issue 10 #3): an anomaly whose every metric changed less than its floor
    # is at most Low, however unusual. CPU in points of one core; memory as a share of the
    # plugin's memory limit, or in MiB when it has none; latency (mean and p95) in ms; error rate
    # as a fraction (0.01 = one percentage point). See docs/anomaly-detection.md.
    severity_floor_cpu_percent: float = Field(default=5.0, alias="AI_ANALYTICS_SEVERITY_FLOOR_CPU_PERCENT", ge=0)
    severity_floor_memory_fraction: float = Field(
        default=0.01, alias="AI_ANALYTICS_SEVERITY_FLOOR_MEMORY_FRACTION", ge=0, le=1
    )
    severity_floor_memory_mb: float = Field(default=20.0, alias="AI_ANALYTICS_SEVERITY_FLOOR_MEMORY_MB", ge=0)
    severity_floor_response_time_ms: float = Field(
        default=10.0, alias="AI_ANALYTICS_SEVERITY_FLOOR_RESPONSE_TIME_MS", ge=0
    )
    severity_floor_error_rate: float = Field(default=0.01, alias="AI_ANALYTICS_SEVERITY_FLOOR_ERROR_RATE", ge=0, le=1)

    max_batch_samples: int = Field(default=10_000, alias="AI_ANALYTICS_MAX_BATCH", gt=0, le=1_000_000)
    # Request bodies over this are refused with 413 while they arrive (api/limits.py); a full
    # 10,000-sample batch is about 2.5 MB.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, alias="AI_ANALYTICS_MAX_BODY_BYTES", ge=1024, le=1 << 30)
    max_future_skew_seconds: float = Field(default=300.0, alias="AI_ANALYTICS_MAX_FUTURE_SKEW", ge=0)
    cpu_cores: int = Field(default=0, alias="AI_ANALYTICS_CPU_CORES", ge=0)
    plugins_file: Path | None = Field(default=None, alias="AI_ANALYTICS_PLUGINS_FILE")
    scheduler_enabled: bool = Field(default=True, alias="AI_ANALYTICS_SCHEDULER")
    # Bounded jobs (issue 16): at most this many jobs wait (then 429 + Retry-After), and at shutdown
    # running jobs get this long to stop before the process exits without them.
    job_queue_limit: int = Field(default=1000, alias="AI_ANALYTICS_JOB_QUEUE_LIMIT", ge=1, le=100_000)
    job_shutdown_grace_seconds: float = Field(default=5.0, alias="AI_ANALYTICS_JOB_SHUTDOWN_GRACE", ge=0, le=60)
    # SQLite: pushed batches wait at most this long for the one writer to commit them (then 503).
    sqlite_write_timeout_seconds: float = Field(default=10.0, alias="AI_ANALYTICS_SQLITE_WRITE_TIMEOUT", gt=0, le=300)

    retention_metrics_days: float = Field(default=30, alias="AI_ANALYTICS_RETENTION_METRICS_DAYS", gt=0)
    retention_predictions_days: float = Field(default=7, alias="AI_ANALYTICS_RETENTION_PREDICTIONS_DAYS", gt=0)
    retention_anomalies_days: float = Field(default=30, alias="AI_ANALYTICS_RETENTION_ANOMALIES_DAYS", gt=0)
    retention_suggestions_days: float = Field(default=90, alias="AI_ANALYTICS_RETENTION_SUGGESTIONS_DAYS", gt=0)
    retention_jobs_days: float = Field(default=30, alias="AI_ANALYTICS_RETENTION_JOBS_DAYS", gt=0)
    retention_audit_days: float = Field(default=400, alias="AI_ANALYTICS_RETENTION_AUDIT_DAYS", gt=0)
    retention_batch_rows: int = Field(default=1000, alias="AI_ANALYTICS_RETENTION_BATCH", ge=10, le=100_000)

    # Security (docs/security.md). Authentication is on unless ``insecure`` (loopback only).
    insecure: bool = Field(default=False, alias="AI_ANALYTICS_INSECURE")
    admin_token: SecretStr | None = Field(default=None, alias="AI_ANALYTICS_ADMIN_TOKEN")
    secret_key: SecretStr | None = Field(default=None, alias="AI_ANALYTICS_SECRET_KEY")
    key_file: Path | None = Field(default=None, alias="AI_ANALYTICS_KEY_FILE")
    allowed_hosts: str = Field(default="localhost,127.0.0.1,[::1]", alias="AI_ANALYTICS_ALLOWED_HOSTS")
    cors_origins: str = Field(default="", alias="AI_ANALYTICS_CORS_ORIGINS")
    outbound_allow: str = Field(default="", alias="AI_ANALYTICS_OUTBOUND_ALLOW")
    auth_failures_per_minute: int = Field(default=20, alias="AI_ANALYTICS_AUTH_FAILURES_PER_MINUTE", ge=1)
    oidc_jwks: str | None = Field(default=None, alias="AI_ANALYTICS_OIDC_JWKS")
    oidc_issuer: str | None = Field(default=None, alias="AI_ANALYTICS_OIDC_ISSUER")
    oidc_audience: str | None = Field(default=None, alias="AI_ANALYTICS_OIDC_AUDIENCE")
    oidc_role_claim: str = Field(default="role", alias="AI_ANALYTICS_OIDC_ROLE_CLAIM")
    tls_cert: Path | None = Field(default=None, alias="AI_ANALYTICS_TLS_CERT")
    tls_key: Path | None = Field(default=None, alias="AI_ANALYTICS_TLS_KEY")

    # Backups (docs/security.md): snapshots with a manifest of checksums, rotated.
    backup_dir: Path | None = Field(default=None, alias="AI_ANALYTICS_BACKUP_DIR")
    backup_interval_hours: float = Field(default=168, alias="AI_ANALYTICS_BACKUP_INTERVAL", ge=0)
    backup_keep: int = Field(default=4, alias="AI_ANALYTICS_BACKUP_KEEP", ge=1)

    # Faults (RELIABILITY.md, "Database faults"): every wait on the database is bounded, so a
    # stalled or unreachable database answers 503 + Retry-After instead of freezing the service.
    db_connect_timeout: float = Field(default=5.0, alias="AI_ANALYTICS_DB_CONNECT_TIMEOUT", gt=0, le=300)
    db_statement_timeout: float = Field(default=30.0, alias="AI_ANALYTICS_DB_STATEMENT_TIMEOUT", gt=0, le=3600)
    db_ingest_timeout: float = Field(default=5.0, alias="AI_ANALYTICS_DB_INGEST_TIMEOUT", gt=0, le=300)
    db_lock_timeout: float = Field(default=3.0, alias="AI_ANALYTICS_DB_LOCK_TIMEOUT", gt=0, le=300)
    db_pool_timeout: float = Field(default=5.0, alias="AI_ANALYTICS_DB_POOL_TIMEOUT", gt=0, le=300)
    sqlite_busy_timeout: float = Field(default=5.0, alias="AI_ANALYTICS_SQLITE_BUSY_TIMEOUT", gt=0, le=300)
    max_inflight_requests: int = Field(default=40, alias="AI_ANALYTICS_MAX_INFLIGHT", ge=1, le=10_000)
    retry_after_seconds: int = Field(default=5, alias="AI_ANALYTICS_RETRY_AFTER", ge=1, le=3600)
    readiness_timeout: float = Field(default=2.0, alias="AI_ANALYTICS_READINESS_TIMEOUT", gt=0, le=60)
    spool_max_bytes: int = Field(default=10_000_000, alias="AI_ANALYTICS_SPOOL_MAX_BYTES", ge=0, le=10**11)

    @field_validator("admin_token")
    @classmethod
    def _long_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "must be at least 32 characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    # Alerting (docs/alerting.md)
    alerting_file: Path | None = Field(default=None, alias="AI_ANALYTICS_ALERTING_FILE")
    public_url: str = Field(default="http://127.0.0.1:8000", alias="AI_ANALYTICS_PUBLIC_URL")
    alert_evaluation_seconds: float = Field(default=30.0, alias="AI_ANALYTICS_ALERT_EVALUATION_SECONDS", gt=0)
    alert_delivery_attempts: int = Field(default=12, alias="AI_ANALYTICS_ALERT_DELIVERY_ATTEMPTS", ge=1, le=100)
    alert_retry_base_seconds: float = Field(default=1.0, alias="AI_ANALYTICS_ALERT_RETRY_BASE_SECONDS", gt=0)
    alert_retry_max_seconds: float = Field(default=300.0, alias="AI_ANALYTICS_ALERT_RETRY_MAX_SECONDS", gt=0)
    alert_delivery_workers: int = Field(default=4, alias="AI_ANALYTICS_ALERT_DELIVERY_WORKERS", ge=1, le=64)
    # /metrics exports per-plugin series for at most this many plugins (label cardinality)
    metrics_max_plugins: int = Field(default=100, alias="AI_ANALYTICS_METRICS_MAX_PLUGINS", ge=0, le=10_000)

    # Scale-out (docs/deployment.md): where background work runs. ``inprocess`` (default) is the
    # thread/process pool of this process and its scheduler; ``celery`` sends every job to Celery
    # workers through the broker, periodic work comes from ``plugin-ai-analytics beat``, and API
    # processes become stateless replicas over PostgreSQL.
    executor: str = Field(default="inprocess", alias="AI_ANALYTICS_EXECUTOR")
    broker_url: str = Field(default="redis://127.0.0.1:6379/0", alias="AI_ANALYTICS_BROKER_URL")
    # Real-time detection shared by several processes: each push scores under the plugin's
    # PostgreSQL advisory lock with the detector state read fresh and saved before the lock goes.
    # Unset: on exactly when the executor is ``celery``.
    replicated: bool | None = Field(default=None, alias="AI_ANALYTICS_REPLICATED")
    # A task a worker took and never acknowledged (its machine died) is handed out again after
    # this long; longer than the longest task (a training), or a slow task would run twice.
    task_visibility_seconds: float = Field(default=3600.0, alias="AI_ANALYTICS_TASK_VISIBILITY_SECONDS", ge=5)
    # How often retention runs (seconds); the periodic schedule of both modes reads it.
    retention_interval_seconds: float = Field(
        default=3600.0, alias="AI_ANALYTICS_RETENTION_INTERVAL_SECONDS", ge=1, le=7 * 86400
    )

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        if value not in ("inprocess", "celery"):
            raise ValueError("must be inprocess or celery")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError("must be a redis:// or amqp:// URL")
        return value

    @property
    def effective_replicated(self) -> bool:
        return self.executor == "celery" if self.replicated is None else self.replicated

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be the http:// or https:// address operators reach the dashboard at")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value or None

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the embedded SQLite file in the data directory."""
        if self.database_url:
            url = self.database_url
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.data_dir / 'analytics.db').resolve()}"

    @property
    def database_limits(self) -> DatabaseLimits:
        """The bounds on every wait for the database and its pool (``store.database.make_engine``)."""
        from .store.database import DatabaseLimits  # SQLAlchemy loads only when a database is opened

        return DatabaseLimits(
            connect=self.db_connect_timeout,
            statement=self.db_statement_timeout,
            lock=self.db_lock_timeout,
            pool=self.db_pool_timeout,
            sqlite_busy=self.sqlite_busy_timeout,
            # one per request in flight (the 10 the pool may add serve the background work)
            pool_size=self.max_inflight_requests,
        )

    @property
    def severity_floors(self) -> dict[str, float]:
        """The absolute change per metric below which an anomaly is at most Low (memory without a
        limit; with one, ``severity_floor_memory_fraction`` of it)."""
        return {
            "cpu_percent": self.severity_floor_cpu_percent,
            "memory_mb": self.severity_floor_memory_mb,
            "response_time_ms": self.severity_floor_response_time_ms,
            "response_time_p95_ms": self.severity_floor_response_time_ms,
            "error_rate": self.severity_floor_error_rate,
        }

    @property
    def effective_key_file(self) -> Path:
        return self.key_file or self.data_dir / "secret.key"

    @property
    def effective_backup_dir(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    @property
    def effective_cpu_cores(self) -> int:
        if self.cpu_cores:
            return self.cpu_cores
        return os.cpu_count() or 1


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise our ``ValidationError`` naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = str(first["loc"][0]) if first.get("loc") else "?"
        field = Settings.model_fields.get(variable)
        if field is not None and field.alias:
            variable = field.alias
        raise AnalyticsValidationError(
            f"invalid setting {variable}: {first['msg']} (got {first.get('input')!r})", field=variable
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
