"""advice runs: what the last optimisation analysis of each plugin found or why it found nothing

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advice_runs",
        sa.Column("plugin_id", sa.String(128), primary_key=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("analysed_from", sa.BigInteger(), nullable=True),
        sa.Column("analysed_to", sa.BigInteger(), nullable=True),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("not_analysed", sa.JSON(), nullable=False),
        sa.Column("clear", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("advice_runs")
