"""Lead records and the history of their stages."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from leads.types import Id, JSONValue, UTCDateTime, utcnow


class LeadStatus(StrEnum):
    OPEN = "open"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"


# The status reasons each status allows; the first is the one a status takes by default.
STATUS_REASONS: dict[LeadStatus, tuple[str, ...]] = {
    LeadStatus.OPEN: ("new", "contacted", "marketing_qualified"),
    LeadStatus.QUALIFIED: ("qualified",),
    LeadStatus.DISQUALIFIED: ("lost", "cannot_contact", "no_longer_interested", "canceled"),
}


class ContextKind(StrEnum):
    """What a lead expresses interest in: its marketing context."""

    CAMPAIGN = "campaign"
    FORM = "form"
    PAGE = "page"


class Lead(SQLModel, table=True):
    __tablename__ = "lead"
    __table_args__ = (
        Index("ix_lead_process_stage", "process", "stage"),
        Index("ix_lead_stage_id", "stage", "id"),
        Index("ix_lead_status_id", "status", "id"),
        Index("ix_lead_owner_id", "owner", "id"),
        Index("ix_lead_sales_ready_id", "sales_ready", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    topic: str = Field(max_length=200)
    context_kind: str | None = Field(default=None, max_length=20)
    context_id: str | None = Field(default=None, max_length=200)
    parent_contact_id: int | None = Field(default=None, sa_type=Id)
    parent_account_id: int | None = Field(default=None, sa_type=Id)
    status: str = Field(default=LeadStatus.OPEN.value, max_length=20)
    status_reason: str = Field(default="new", max_length=40)
    sales_ready: bool = Field(default=False)
    owner: str | None = Field(default=None, max_length=200)
    process: str = Field(max_length=64)
    stage: str = Field(max_length=64)
    stage_entered_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONValue)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def field_value(self, name: str) -> Any:
        """A step field: a column if the lead has one by that name, else a custom attribute."""
        if name in Lead.model_fields and name != "attributes":
            return getattr(self, name)
        return self.attributes.get(name)


class StageChange(SQLModel, table=True):
    """One move of a lead: from where to where, by what trigger, who moved it and why."""

    __tablename__ = "stage_change"
    __table_args__ = (Index("ix_stage_change_lead_id", "lead_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    lead_id: int = Field(
        sa_column=Column(Id, ForeignKey("lead.id", ondelete="CASCADE"), nullable=False)
    )
    from_process: str | None = Field(default=None, max_length=64)
    process: str = Field(max_length=64)
    from_stage: str = Field(max_length=64)
    to_stage: str = Field(max_length=64)
    trigger: str | None = Field(default=None, max_length=64)
    actor: str = Field(max_length=20)
    actor_name: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    seconds_in_stage: float | None = Field(default=None)
