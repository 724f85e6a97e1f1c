"""Jobs: leases (one holder per job, across processes), the history and queue of job runs,
and the checkpoint of an evaluation run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "job_lease",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("acquired_at", When, nullable=False),
        sa.Column("heartbeat_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
    )

    with op.batch_alter_table("evaluation_run") as batch:
        batch.add_column(sa.Column("checkpoint_entity", sa.String(10), nullable=True))
        batch.add_column(sa.Column("checkpoint_id", Id, nullable=True))

    op.create_table(
        "job_run",
        sa.Column("id", Id, primary_key=True),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("slot", Id, nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", When, nullable=False),
        sa.Column("started_at", When, nullable=True),
        sa.Column("finished_at", When, nullable=True),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("checkpoint", JSONValue, nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.Column(
            "evaluation_run_id",
            Id,
            sa.ForeignKey("evaluation_run.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index("ix_job_run_job_slot", "job_run", ["job", "slot"], unique=True)
    op.create_index("ix_job_run_job_status", "job_run", ["job", "status", "id"])

    # Evaluations left queued or cut off by the in-process runner are carried on by the
    # evaluation job (from the start: they kept no checkpoint).
    op.execute(
        "INSERT INTO job_run (job, status, requested_by, requested_at, attempts, processed, "
        "evaluation_run_id) SELECT 'evaluation', 'queued', 'upgrade', started_at, 0, 0, id "
        "FROM evaluation_run WHERE status IN ('queued', 'running') ORDER BY id"
    )
    op.execute("UPDATE evaluation_run SET status = 'queued' WHERE status = 'running'")


def downgrade() -> None:
    op.drop_index("ix_job_run_job_status", table_name="job_run")
    op.drop_index("ix_job_run_job_slot", table_name="job_run")
    op.drop_table("job_run")
    with op.batch_alter_table("evaluation_run") as batch:
        batch.drop_column("checkpoint_id")
        batch.drop_column("checkpoint_entity")
    op.drop_table("job_lease")
