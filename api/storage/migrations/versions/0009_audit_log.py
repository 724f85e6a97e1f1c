"""The audit log: field-level changes of leads, contacts and accounts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", Id, primary_key=True),
        sa.Column("entity", sa.String(10), nullable=False),
        sa.Column("entity_id", Id, nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("old", JSONValue, nullable=True),
        sa.Column("new", JSONValue, nullable=True),
        sa.Column("redacted", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("actor_key_id", Id, nullable=True),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_audit_entry_record", "audit_entry", ["entity", "entity_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entry_record", table_name="audit_entry")
    op.drop_table("audit_entry")
