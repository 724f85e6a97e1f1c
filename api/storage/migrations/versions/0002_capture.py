"""Capture: contacts, accounts, consent, interactions, matching, forms, lead-gen, erasure,
idempotency.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONValue = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("employees", sa.Integer(), nullable=True),
        sa.Column("revenue", sa.Float(), nullable=True),
        sa.Column("country", sa.String(100), nullable=True),
        sa.Column("attributes", JSONValue, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_account_name", "account", ["name"])

    op.create_table(
        "contact",
        sa.Column("id", Id, primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("first_name", sa.String(100), nullable=True),
        sa.Column("last_name", sa.String(100), nullable=True),
        sa.Column("job_title", sa.String(200), nullable=True),
        sa.Column("company", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column("country", sa.String(100), nullable=True),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("attributes", JSONValue, nullable=False),
        sa.Column("consent_level", sa.String(20), nullable=False),
        sa.Column(
            "account_id", Id, sa.ForeignKey("account.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_contact_email", "contact", ["email"])
    op.create_index("ix_contact_account_id", "contact", ["account_id"])

    op.create_table(
        "consent_change",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "contact_id", Id, sa.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("previous_level", sa.String(20), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_consent_change_contact_id", "consent_change", ["contact_id", "id"])

    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch.create_foreign_key(
            "fk_lead_parent_contact_id", "contact", ["parent_contact_id"], ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            "fk_lead_parent_account_id", "account", ["parent_account_id"], ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_lead_email", "lead", ["email"])
    op.create_index("ix_lead_parent_contact_id", "lead", ["parent_contact_id"])
    op.create_index("ix_lead_parent_account_id", "lead", ["parent_account_id"])

    op.create_table(
        "interaction",
        sa.Column("id", Id, primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("occurred_at", When, nullable=False),
        sa.Column(
            "contact_id", Id, sa.ForeignKey("contact.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("lead_id", Id, sa.ForeignKey("lead.id", ondelete="SET NULL"), nullable=True),
        sa.Column("target", sa.String(500), nullable=True),
        sa.Column("properties", JSONValue, nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_interaction_lead_id", "interaction", ["lead_id", "occurred_at"])
    op.create_index("ix_interaction_contact_id", "interaction", ["contact_id", "occurred_at"])
    op.create_index("ix_interaction_external_id", "interaction", ["external_id"], unique=True)

    op.create_table(
        "matching_strategy",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(10), nullable=False),
        sa.Column("fields", JSONValue, nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_matching_strategy_name", "matching_strategy", ["name"], unique=True)

    op.create_table(
        "form",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "contact_strategy_id",
            Id,
            sa.ForeignKey("matching_strategy.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "lead_strategy_id",
            Id,
            sa.ForeignKey("matching_strategy.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", When, nullable=False),
    )

    op.create_table(
        "leadgen_source",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column(
            "form_id", sa.String(100), sa.ForeignKey("form.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("mapping", JSONValue, nullable=False),
        sa.Column("created_at", When, nullable=False),
    )

    op.create_table(
        "erased_person",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("erased_at", When, nullable=False),
    )

    op.create_table(
        "idempotency_record",
        sa.Column("api_key_id", Id, primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JSONValue, nullable=True),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_idempotency_record_created_at", "idempotency_record", ["created_at"])

    op.create_table(
        "service_secret",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_secret")
    op.drop_table("idempotency_record")
    op.drop_table("erased_person")
    op.drop_table("leadgen_source")
    op.drop_table("form")
    op.drop_table("matching_strategy")
    op.drop_table("interaction")
    op.drop_index("ix_lead_parent_account_id", "lead")
    op.drop_index("ix_lead_parent_contact_id", "lead")
    op.drop_index("ix_lead_email", "lead")
    with op.batch_alter_table("lead") as batch:
        batch.drop_constraint("fk_lead_parent_account_id", type_="foreignkey")
        batch.drop_constraint("fk_lead_parent_contact_id", type_="foreignkey")
        batch.drop_column("email")
    op.drop_table("consent_change")
    op.drop_table("contact")
    op.drop_table("account")
