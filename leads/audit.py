"""The audit log of leads, contacts, accounts and opportunities: one row per field a change
gave a new value."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from leads.types import Id, JSONValue, UTCDateTime, utcnow


class Entity(StrEnum):
    LEAD = "lead"
    CONTACT = "contact"
    ACCOUNT = "account"
    ACTIVITY = "activity"
    OPPORTUNITY = "opportunity"


class AuditEntry(SQLModel, table=True):
    """A field of a record changed from `old` to `new`: by whom, when. A custom attribute is
    its own field, `attributes.<key>`. `redacted`: the values were removed by an erasure."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_record", "entity", "entity_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    entity: str = Field(max_length=20)
    # No foreign key: the log outlives a deleted record.
    entity_id: int = Field(sa_column=Column(Id, nullable=False))
    # Text: attribute names from forms have no length limit.
    field: str = Field(sa_column=Column(Text, nullable=False))
    old: Any = Field(default=None, sa_column=Column(JSONValue, nullable=True))
    new: Any = Field(default=None, sa_column=Column(JSONValue, nullable=True))
    redacted: bool = Field(default=False)
    actor: str = Field(max_length=20)
    actor_name: str | None = Field(default=None, max_length=200)
    actor_key_id: int | None = Field(default=None, sa_column=Column(Id, nullable=True))
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
