"""Activities: the tasks, phone calls and appointments that people owe a lead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from leads.activity_kinds import ActivityKind, ActivitySource, ActivityStatus, CallOutcome
from leads.types import Id, JSONValue, UTCDateTime, utcnow

__all__ = ["Activity", "ActivityKind", "ActivitySource", "ActivityStatus", "CallOutcome"]


class Activity(SQLModel, table=True):
    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_lead_id", "lead_id", "id"),
        Index("ix_activity_owner_status", "owner", "status", "due_at"),
        Index("ix_activity_status_due_at", "status", "due_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    kind: str = Field(max_length=20)
    subject: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    lead_id: int = Field(
        sa_column=Column(Id, ForeignKey("lead.id", ondelete="CASCADE"), nullable=False)
    )
    # The lead's owner when the activity was made; null is nobody's yet.
    owner: str | None = Field(default=None, max_length=200)
    due_at: dt.datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=ActivityStatus.OPEN.value, max_length=20)
    source: str = Field(max_length=20)
    # Stage entry: the process and stage entered. Qualification: the id of what qualified.
    source_process: str | None = Field(default=None, max_length=64)
    source_stage: str | None = Field(default=None, max_length=64)
    source_ref: str | None = Field(default=None, max_length=200)
    created_by: str | None = Field(default=None, max_length=200)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_by: str | None = Field(default=None, max_length=200)
    canceled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    canceled_by: str | None = Field(default=None, max_length=200)
    # Why it was completed or canceled ("lead closed" when the lead was qualified or
    # disqualified while it was open).
    outcome: str | None = Field(default=None, max_length=1000)
    # Appointments: when they start and end, and who attends (emails or seller handles).
    starts_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    ends_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    attendees: list[str] | None = Field(default=None, sa_type=JSONValue)
    # Phone calls: how the call went (CallOutcome), given when it is logged.
    call_outcome: str | None = Field(default=None, max_length=20)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
