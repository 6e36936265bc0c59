"""Settings from the environment and ``.env``, validated once at start-up.

One ``Settings`` object; a bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ValidationError as AnalyticsValidationError

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
    anomaly_detection_sensitivity: float = Field(default=0.1, alias="ANOMALY_DETECTION_SENSITIVITY", gt=0, lt=0.5)

    max_batch_samples: int = Field(default=10_000, alias="AI_ANALYTICS_MAX_BATCH", gt=0, le=1_000_000)
    max_future_skew_seconds: float = Field(default=300.0, alias="AI_ANALYTICS_MAX_FUTURE_SKEW", ge=0)
    cpu_cores: int = Field(default=0, alias="AI_ANALYTICS_CPU_CORES", ge=0)
    plugins_file: Path | None = Field(default=None, alias="AI_ANALYTICS_PLUGINS_FILE")
    scheduler_enabled: bool = Field(default=True, alias="AI_ANALYTICS_SCHEDULER")

    retention_metrics_days: float = Field(default=30, alias="AI_ANALYTICS_RETENTION_METRICS_DAYS", gt=0)
    retention_predictions_days: float = Field(default=7, alias="AI_ANALYTICS_RETENTION_PREDICTIONS_DAYS", gt=0)
    retention_anomalies_days: float = Field(default=30, alias="AI_ANALYTICS_RETENTION_ANOMALIES_DAYS", gt=0)
    retention_suggestions_days: float = Field(default=90, alias="AI_ANALYTICS_RETENTION_SUGGESTIONS_DAYS", gt=0)

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
