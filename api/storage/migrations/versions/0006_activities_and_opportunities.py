"""Activities of leads; opportunities that qualified leads became; the disposition history of
leads (qualified, disqualified, reopened).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", Id, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=True),
        sa.Column("lead_id", Id, sa.ForeignKey("lead.id", ondelete="CASCADE"), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("due_at", When, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_process", sa.String(64), nullable=True),
        sa.Column("source_stage", sa.String(64), nullable=True),
        sa.Column("source_ref", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("completed_at", When, nullable=True),
        sa.Column("completed_by", sa.String(200), nullable=True),
        sa.Column("canceled_at", When, nullable=True),
        sa.Column("canceled_by", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(1000), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_activity_lead_id", "activity", ["lead_id", "id"])
    op.create_index("ix_activity_owner_status", "activity", ["owner", "status", "due_at"])
    op.create_index("ix_activity_status_due_at", "activity", ["status", "due_at"])

    op.create_table(
        "opportunity",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lead_id", Id, sa.ForeignKey("lead.id", ondelete="SET NULL"), nullable=True),
        sa.Column(
            "contact_id", Id, sa.ForeignKey("contact.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "account_id", Id, sa.ForeignKey("account.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("estimated_value_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("estimated_close_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_opportunity_lead_id", "opportunity", ["lead_id"])
    op.create_index("ix_opportunity_owner_id", "opportunity", ["owner", "id"])
    op.create_index("ix_opportunity_account_id", "opportunity", ["account_id"])
    op.create_index("ix_opportunity_contact_id", "opportunity", ["contact_id"])

    op.create_table(
        "lead_disposition",
        sa.Column("id", Id, primary_key=True),
        sa.Column("lead_id", Id, sa.ForeignKey("lead.id", ondelete="CASCADE"), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(40), nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column(
            "opportunity_id",
            Id,
            sa.ForeignKey("opportunity.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_lead_disposition_lead_id", "lead_disposition", ["lead_id", "id"])


def downgrade() -> None:
    op.drop_table("lead_disposition")
    op.drop_table("opportunity")
    op.drop_table("activity")
