"""Owners who act and activities that reach them: appointments' start, end and attendees, and
the outcome of a logged phone call.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("activity") as table:
        table.add_column(sa.Column("starts_at", When, nullable=True))
        table.add_column(sa.Column("ends_at", When, nullable=True))
        table.add_column(sa.Column("attendees", JSONValue, nullable=True))
        table.add_column(sa.Column("call_outcome", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activity") as table:
        table.drop_column("call_outcome")
        table.drop_column("attendees")
        table.drop_column("ends_at")
        table.drop_column("starts_at")
