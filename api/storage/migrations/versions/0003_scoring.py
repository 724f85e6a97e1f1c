"""Scoring: models, lead and account scores, configurations, evaluation runs; the first-score
time of a lead; interaction times in whole seconds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _score_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("grade", sa.String(40), nullable=True),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("as_of", When, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "scoring_model",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("definition", JSONValue, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("live_since", When, nullable=True),
    )
    op.create_index("ix_scoring_model_name", "scoring_model", ["name"], unique=True)

    op.create_table(
        "lead_score",
        *_score_columns(),
        sa.Column(
            "model_id",
            Id,
            sa.ForeignKey("scoring_model.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("lead_id", Id, sa.ForeignKey("lead.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_lead_score_lead_id", "lead_score", ["lead_id"])

    op.create_table(
        "account_score",
        *_score_columns(),
        sa.Column(
            "model_id",
            Id,
            sa.ForeignKey("scoring_model.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "account_id", Id, sa.ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_account_score_account_id", "account_score", ["account_id"])

    op.create_table(
        "scoring_configuration",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("automatic_sales_ready", sa.Boolean(), nullable=False),
        sa.Column("automated_marketing_qualification", sa.Boolean(), nullable=False),
        sa.Column("automatic_lead_score_cleanup", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
    )

    op.create_table(
        "evaluation_run",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "model_id", Id, sa.ForeignKey("scoring_model.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("as_of", When, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("outcomes", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column("started_at", When, nullable=False),
        sa.Column("finished_at", When, nullable=True),
    )

    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("scored_at", When, nullable=True))

    with op.batch_alter_table("interaction") as batch:
        batch.add_column(sa.Column("occurred_epoch", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE interaction SET occurred_epoch = CAST(strftime('%s', occurred_at) AS INTEGER)")
    else:
        op.execute("UPDATE interaction SET occurred_epoch = floor(extract(epoch from occurred_at))")
    with op.batch_alter_table("interaction") as batch:
        batch.alter_column("occurred_epoch", existing_type=sa.BigInteger(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("interaction") as batch:
        batch.drop_column("occurred_epoch")
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("scored_at")
    op.drop_table("evaluation_run")
    op.drop_table("scoring_configuration")
    op.drop_table("account_score")
    op.drop_table("lead_score")
    op.drop_table("scoring_model")
