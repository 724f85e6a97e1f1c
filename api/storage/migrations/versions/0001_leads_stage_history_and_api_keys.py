"""Leads, their stage history, and API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("revoked_at", When, nullable=True),
    )
    op.create_index("ix_api_key_hash", "api_key", ["key_hash"], unique=True)

    op.create_table(
        "lead",
        sa.Column("id", Id, primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("context_kind", sa.String(20), nullable=True),
        sa.Column("context_id", sa.String(200), nullable=True),
        sa.Column("parent_contact_id", Id, nullable=True),
        sa.Column("parent_account_id", Id, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(40), nullable=False),
        sa.Column("sales_ready", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("process", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("stage_entered_at", When, nullable=False),
        sa.Column("attributes", JSONValue, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_lead_process_stage", "lead", ["process", "stage"])
    op.create_index("ix_lead_stage_id", "lead", ["stage", "id"])
    op.create_index("ix_lead_status_id", "lead", ["status", "id"])
    op.create_index("ix_lead_owner_id", "lead", ["owner", "id"])
    op.create_index("ix_lead_sales_ready_id", "lead", ["sales_ready", "id"])

    op.create_table(
        "stage_change",
        sa.Column("id", Id, primary_key=True),
        sa.Column("lead_id", Id, sa.ForeignKey("lead.id", ondelete="CASCADE"), nullable=False),
        sa.Column("from_process", sa.String(64), nullable=True),
        sa.Column("process", sa.String(64), nullable=False),
        sa.Column("from_stage", sa.String(64), nullable=False),
        sa.Column("to_stage", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.Column("seconds_in_stage", sa.Float(), nullable=True),
    )
    op.create_index("ix_stage_change_lead_id", "stage_change", ["lead_id", "id"])


def downgrade() -> None:
    op.drop_table("stage_change")
    op.drop_table("lead")
    op.drop_table("api_key")
