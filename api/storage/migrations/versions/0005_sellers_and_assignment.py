"""Sellers, assignment rules and the record of assignments; the seller an API key acts for.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "seller",
        sa.Column("id", Id, primary_key=True),
        sa.Column("handle", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("team", sa.String(100), nullable=True),
        sa.Column("territory", sa.String(100), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_seller_handle", "seller", ["handle"], unique=True)
    op.create_index("ix_seller_team", "seller", ["team"])

    op.create_table(
        "assignment_rule",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("when", JSONValue, nullable=True),
        sa.Column("strategy", sa.String(20), nullable=False),
        sa.Column("sellers", JSONValue, nullable=False),
        sa.Column("team", sa.String(100), nullable=True),
        sa.Column("cursor", sa.String(200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_assignment_rule_name", "assignment_rule", ["name"], unique=True)

    op.create_table(
        "lead_assignment",
        sa.Column("id", Id, primary_key=True),
        sa.Column("lead_id", Id, sa.ForeignKey("lead.id", ondelete="CASCADE"), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("previous_owner", sa.String(200), nullable=True),
        sa.Column("seller_id", Id, sa.ForeignKey("seller.id", ondelete="SET NULL"), nullable=True),
        sa.Column(
            "rule_id", Id, sa.ForeignKey("assignment_rule.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("rule_name", sa.String(100), nullable=True),
        sa.Column("strategy", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_lead_assignment_lead_id", "lead_assignment", ["lead_id", "id"])

    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("seller", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("seller")
    op.drop_table("lead_assignment")
    op.drop_table("assignment_rule")
    op.drop_table("seller")
