"""Opportunities that close: won (actual value, close date), lost (reason), reopened; the history
of their status changes; opportunities in the audit log.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("opportunity") as table:
        table.add_column(sa.Column("actual_value_cents", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        table.add_column(sa.Column("lost_reason", sa.String(40), nullable=True))
    op.create_index("ix_opportunity_status_closed_on", "opportunity", ["status", "closed_on"])
    op.create_table(
        "opportunity_status_change",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "opportunity_id",
            Id,
            sa.ForeignKey("opportunity.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("actual_value_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("at", When, nullable=False),
    )
    op.create_index(
        "ix_opportunity_status_change_opportunity_id",
        "opportunity_status_change",
        ["opportunity_id", "id"],
    )
    # "opportunity" is longer than the ten characters the entity column had.
    with op.batch_alter_table("audit_entry") as table:
        table.alter_column("entity", existing_type=sa.String(10), type_=sa.String(20))


def downgrade() -> None:
    op.execute("DELETE FROM audit_entry WHERE entity = 'opportunity'")
    with op.batch_alter_table("audit_entry") as table:
        table.alter_column("entity", existing_type=sa.String(20), type_=sa.String(10))
    op.drop_index("ix_opportunity_status_change_opportunity_id", "opportunity_status_change")
    op.drop_table("opportunity_status_change")
    op.drop_index("ix_opportunity_status_closed_on", "opportunity")
    with op.batch_alter_table("opportunity") as table:
        table.drop_column("lost_reason")
        table.drop_column("closed_on")
        table.drop_column("actual_value_cents")
