"""Webhooks: subscriptions, the outbox of events, deliveries and the log of their attempts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhook_subscription",
        sa.Column("id", Id, primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("event_types", JSONValue, nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("previous_secret", sa.String(200), nullable=True),
        sa.Column("previous_secret_until", When, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )

    op.create_table(
        "webhook_event",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("lead_id", Id, nullable=True),
        sa.Column("contact_id", Id, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_webhook_event_lead_id", "webhook_event", ["lead_id"])
    op.create_index("ix_webhook_event_contact_id", "webhook_event", ["contact_id"])

    op.create_table(
        "webhook_delivery",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "event_id",
            sa.String(40),
            sa.ForeignKey("webhook_event.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "subscription_id",
            Id,
            sa.ForeignKey("webhook_subscription.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_base", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("delivered_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_webhook_delivery_due", "webhook_delivery", ["status", "next_attempt_at"])
    op.create_index(
        "ix_webhook_delivery_subscription", "webhook_delivery", ["subscription_id", "id"]
    )
    op.create_index("ix_webhook_delivery_event", "webhook_delivery", ["event_id"])

    op.create_table(
        "webhook_attempt",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "delivery_id",
            Id,
            sa.ForeignKey("webhook_delivery.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("next_retry_at", When, nullable=True),
    )
    op.create_index("ix_webhook_attempt_delivery", "webhook_attempt", ["delivery_id", "number"])


def downgrade() -> None:
    op.drop_table("webhook_attempt")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_event")
    op.drop_table("webhook_subscription")
