"""interval adaptation: the online coverage correction of each plugin's forecast intervals

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interval_adaptation",
        sa.Column("plugin_id", sa.String(length=128), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("scale_80", sa.Float(), nullable=False),
        sa.Column("scale_95", sa.Float(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("last_target_ts", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("plugin_id", "metric"),
    )


def downgrade() -> None:
    op.drop_table("interval_adaptation")
