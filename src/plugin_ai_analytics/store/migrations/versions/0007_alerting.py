"""alerting: alerts, notification groups, the delivery outbox, silences, contact points (secrets in
their own columns), the alerting configuration, and plugin labels for routing

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plugins") as batch:
        batch.add_column(sa.Column("labels", sa.JSON(), nullable=True))
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("plugin_id", sa.String(128), nullable=True),
        sa.Column("metric", sa.String(64), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("source_key", sa.String(128), nullable=True),
        sa.Column("starts_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_alerts_state_updated", "alerts", ["state", "updated_at"])
    op.create_index("ix_alerts_plugin", "alerts", ["plugin_id"])
    op.create_table(
        "alert_groups",
        sa.Column("group_id", sa.String(32), primary_key=True),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("contact_point", sa.String(64), nullable=False),
        sa.Column("group_labels", sa.JSON(), nullable=False),
        sa.Column("next_flush_at", sa.BigInteger(), nullable=True),
        sa.Column("last_flush_at", sa.BigInteger(), nullable=True),
        sa.Column("pending_since", sa.BigInteger(), nullable=True),
        sa.Column("flushes", sa.Integer(), nullable=False),
        sa.Column("notified", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_alert_groups_due", "alert_groups", ["next_flush_at"])
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("contact_point", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=True),
        sa.Column("claimed_until", sa.BigInteger(), nullable=True),
        sa.Column("caused_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.Column("last_status", sa.String(32), nullable=True),
        sa.Column("last_answer", sa.Text(), nullable=True),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["state", "next_attempt_at"])
    op.create_index("ix_alert_outbox_created", "alert_outbox", ["created_at"])
    op.create_table(
        "alert_silences",
        sa.Column("silence_id", sa.String(64), primary_key=True),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_alert_silences_ends", "alert_silences", ["ends_at"])
    op.create_table(
        "alert_contact_points",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secret_url", sa.Text(), nullable=True),
        sa.Column("secret_signing_key", sa.Text(), nullable=True),
        sa.Column("secret_smtp_password", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "alerting_config",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "alerting_config",
        "alert_contact_points",
        "alert_silences",
        "alert_outbox",
        "alert_groups",
        "alerts",
    ):
        op.drop_table(table)
    with op.batch_alter_table("plugins") as batch:
        batch.drop_column("labels")
