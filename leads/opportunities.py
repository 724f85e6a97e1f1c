"""Disposition: a lead qualified into an opportunity, or disqualified, and who did it; the
opportunity won, lost or reopened, and who did it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from leads.types import Id, UTCDateTime, utcnow


class OpportunityStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Opportunity(SQLModel, table=True):
    """A potential sale that a qualified lead became."""

    __tablename__ = "opportunity"
    __table_args__ = (
        Index("ix_opportunity_lead_id", "lead_id"),
        Index("ix_opportunity_owner_id", "owner", "id"),
        Index("ix_opportunity_account_id", "account_id"),
        Index("ix_opportunity_contact_id", "contact_id"),
        # The outcomes of leads, as a backtest reads them: won and lost deals by close date.
        Index("ix_opportunity_status_closed_on", "status", "closed_on"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=200)
    lead_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("lead.id", ondelete="SET NULL"))
    )
    contact_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("contact.id", ondelete="SET NULL"))
    )
    account_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("account.id", ondelete="SET NULL"))
    )
    # In hundredths of the currency's unit: exact on both databases.
    estimated_value_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    estimated_close_date: dt.date | None = Field(default=None)
    status: str = Field(default=OpportunityStatus.OPEN.value, max_length=20)
    # Set when it is won (the actual value) or lost (the reason); cleared when reopened.
    actual_value_cents: int | None = Field(default=None, sa_type=BigInteger)
    closed_on: dt.date | None = Field(default=None)
    lost_reason: str | None = Field(default=None, max_length=40)
    owner: str | None = Field(default=None, max_length=200)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Disposition(SQLModel, table=True):
    """One change of a lead's status: qualified, disqualified, or reopened; by whom and why."""

    __tablename__ = "lead_disposition"
    __table_args__ = (Index("ix_lead_disposition_lead_id", "lead_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    lead_id: int = Field(
        sa_column=Column(Id, ForeignKey("lead.id", ondelete="CASCADE"), nullable=False)
    )
    from_status: str = Field(max_length=20)
    status: str = Field(max_length=20)
    status_reason: str = Field(max_length=40)
    note: str | None = Field(default=None, max_length=1000)
    opportunity_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("opportunity.id", ondelete="SET NULL"))
    )
    actor: str = Field(max_length=20)
    actor_name: str | None = Field(default=None, max_length=200)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OpportunityStatusChange(SQLModel, table=True):
    """One change of an opportunity's status: won, lost or reopened; by whom, why, and the
    values it closed with."""

    __tablename__ = "opportunity_status_change"
    __table_args__ = (Index("ix_opportunity_status_change_opportunity_id", "opportunity_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    opportunity_id: int = Field(
        sa_column=Column(Id, ForeignKey("opportunity.id", ondelete="CASCADE"), nullable=False)
    )
    from_status: str = Field(max_length=20)
    status: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=40)
    note: str | None = Field(default=None, max_length=1000)
    actual_value_cents: int | None = Field(default=None, sa_type=BigInteger)
    currency: str = Field(max_length=3)
    closed_on: dt.date | None = Field(default=None)
    actor: str = Field(max_length=20)
    actor_name: str | None = Field(default=None, max_length=200)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
