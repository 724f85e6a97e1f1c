"""Qualification: criteria over live scoring models and the actions on the leads that meet them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "qualification",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("criteria", JSONValue, nullable=False),
        sa.Column("sets_marketing_qualified", sa.Boolean(), nullable=False),
        sa.Column("sets_sales_ready", sa.Boolean(), nullable=False),
        sa.Column("activities", JSONValue, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("published_at", When, nullable=True),
    )
    op.create_index("ix_qualification_name", "qualification", ["name"], unique=True)


def downgrade() -> None:
    op.drop_table("qualification")
