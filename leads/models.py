"""Lead records and the history of their stages."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String
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
    EVENT = "event"


class ConsentLevel(StrEnum):
    """How far a contact lets us go, each level including the ones before it."""

    NONE = "none"
    TRANSACTIONAL = "transactional"
    SUBSCRIPTIONS = "subscriptions"
    MARKETING = "marketing"
    PROFILING = "profiling"

    @property
    def rank(self) -> int:
        return list(ConsentLevel).index(self)


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (Index("ix_account_name", "name"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=200)
    industry: str | None = Field(default=None, max_length=100)
    employees: int | None = Field(default=None)
    revenue: float | None = Field(default=None)
    country: str | None = Field(default=None, max_length=100)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONValue)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_email", "email"),
        Index("ix_contact_account_id", "account_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    # Kept lower-cased, so matching by email is exact and case-insensitive.
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    job_title: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=100)
    industry: str | None = Field(default=None, max_length=100)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONValue)
    consent_level: str = Field(default=ConsentLevel.NONE.value, max_length=20)
    account_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("account.id", ondelete="SET NULL"))
    )
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ConsentChange(SQLModel, table=True):
    """A contact's consent as given or withdrawn: when, from where, and to what level."""

    __tablename__ = "consent_change"
    __table_args__ = (Index("ix_consent_change_contact_id", "contact_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    contact_id: int = Field(
        sa_column=Column(Id, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False)
    )
    level: str = Field(max_length=20)
    previous_level: str = Field(max_length=20)
    source: str = Field(max_length=200)
    note: str | None = Field(default=None, max_length=1000)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Lead(SQLModel, table=True):
    __tablename__ = "lead"
    __table_args__ = (
        Index("ix_lead_process_stage", "process", "stage"),
        Index("ix_lead_stage_id", "stage", "id"),
        Index("ix_lead_status_id", "status", "id"),
        Index("ix_lead_owner_id", "owner", "id"),
        Index("ix_lead_sales_ready_id", "sales_ready", "id"),
        Index("ix_lead_parent_contact_id", "parent_contact_id"),
        Index("ix_lead_parent_account_id", "parent_account_id"),
        Index("ix_lead_email", "email"),
        Index("ix_lead_created_at_id", "created_at", "id"),
        Index("ix_lead_updated_at_id", "updated_at", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    topic: str = Field(max_length=200)
    context_kind: str | None = Field(default=None, max_length=20)
    context_id: str | None = Field(default=None, max_length=200)
    # Kept lower-cased, like a contact's.
    email: str | None = Field(default=None, max_length=320)
    parent_contact_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("contact.id", ondelete="SET NULL"))
    )
    parent_account_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("account.id", ondelete="SET NULL"))
    )
    status: str = Field(default=LeadStatus.OPEN.value, max_length=20)
    status_reason: str = Field(default="new", max_length=40)
    sales_ready: bool = Field(default=False)
    owner: str | None = Field(default=None, max_length=200)
    process: str = Field(max_length=64)
    stage: str = Field(max_length=64)
    stage_entered_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONValue)
    version: int = Field(default=1)
    # When the lead first received a score: the outcome lead_scored fires once.
    scored_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def field_value(self, name: str) -> Any:
        """A step field: a column if the lead has one by that name, else a custom attribute."""
        if name in LEAD_COLUMNS:
            return getattr(self, name)
        return self.attributes.get(name)


LEAD_COLUMNS = frozenset(name for name in Lead.model_fields if name != "attributes")


class LeadRow:
    """A lead read as a plain row: what bpf reads and moves on hot paths, without the ORM."""

    __slots__ = ("values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @property
    def process(self) -> str:
        process: str = self.values["process"]
        return process

    @process.setter
    def process(self, value: str) -> None:
        self.values["process"] = value

    @property
    def stage(self) -> str:
        stage: str = self.values["stage"]
        return stage

    @stage.setter
    def stage(self, value: str) -> None:
        self.values["stage"] = value

    def field_value(self, name: str) -> Any:
        if name in LEAD_COLUMNS:
            return self.values[name]
        return (self.values["attributes"] or {}).get(name)


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


# Interaction kinds every deployment knows; more are declared in configuration.
INTERACTION_KINDS = (
    "email_sent",
    "email_open",
    "email_click",
    "page_visit",
    "form_submit",
    "event_registration",
    "event_checkin",
    "phone_call",  # a call logged on a lead; `outcome` says how it went (CallOutcome)
)


class Interaction(SQLModel, table=True):
    """Something a contact or lead did: opened an email, visited a page, submitted a form."""

    __tablename__ = "interaction"
    __table_args__ = (
        Index("ix_interaction_lead_id", "lead_id", "occurred_at"),
        Index("ix_interaction_contact_id", "contact_id", "occurred_at"),
        Index("ix_interaction_external_id", "external_id", unique=True),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    kind: str = Field(max_length=64)
    occurred_at: dt.datetime = Field(sa_type=UTCDateTime)
    # occurred_at in whole Unix seconds: windows and decay compute on it, exactly alike in
    # SQL and in Python.
    occurred_epoch: int = Field(sa_type=BigInteger)
    contact_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("contact.id", ondelete="SET NULL"))
    )
    lead_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("lead.id", ondelete="SET NULL"))
    )
    # What was interacted with: the email, page, form or event; rules filter on it.
    target: str | None = Field(default=None, max_length=500)
    properties: dict[str, Any] = Field(default_factory=dict, sa_type=JSONValue)
    external_id: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MatchingStrategy(SQLModel, table=True):
    """Fields compared exactly (email case-insensitively) to find an existing contact or lead."""

    __tablename__ = "matching_strategy"
    __table_args__ = (Index("ix_matching_strategy_name", "name", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=100)
    entity: str = Field(max_length=10)  # contact or lead
    fields: list[str] = Field(default_factory=list, sa_type=JSONValue)
    is_default: bool = Field(default=False)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Form(SQLModel, table=True):
    """A marketing form or event that captures demand; it may name its matching strategies."""

    __tablename__ = "form"

    id: str = Field(primary_key=True, max_length=100)
    kind: str = Field(default=ContextKind.FORM.value, max_length=20)  # form or event
    name: str = Field(max_length=200)
    contact_strategy_id: int | None = Field(
        default=None,
        sa_column=Column(Id, ForeignKey("matching_strategy.id", ondelete="SET NULL")),
    )
    lead_strategy_id: int | None = Field(
        default=None,
        sa_column=Column(Id, ForeignKey("matching_strategy.id", ondelete="SET NULL")),
    )
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LeadgenSource(SQLModel, table=True):
    """An external lead-gen form (LinkedIn Lead Gen Forms, say) whose responses, mapped field by
    field, become submissions of one of our forms."""

    __tablename__ = "leadgen_source"

    id: str = Field(primary_key=True, max_length=100)
    form_id: str = Field(
        sa_column=Column(String(100), ForeignKey("form.id", ondelete="CASCADE"), nullable=False)
    )
    mapping: dict[str, str] = Field(default_factory=dict, sa_type=JSONValue)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ErasedPerson(SQLModel, table=True):
    """A keyed hash of an erased person's email: enough to recognise them, not to know them."""

    __tablename__ = "erased_person"

    digest: str = Field(primary_key=True, max_length=64)
    erased_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
