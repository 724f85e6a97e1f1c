"""Sellers, the rules that route leads to them, and the record of every assignment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from leads.types import Id, JSONValue, UTCDateTime, utcnow


class Seller(SQLModel, table=True):
    """Someone who takes leads. `handle` is what a lead's owner holds."""

    __tablename__ = "seller"
    __table_args__ = (
        Index("ix_seller_handle", "handle", unique=True),
        Index("ix_seller_team", "team"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    handle: str = Field(max_length=200)
    name: str = Field(max_length=200)
    team: str | None = Field(default=None, max_length=100)
    territory: str | None = Field(default=None, max_length=100)
    capacity: int = Field(default=50)  # the most open leads the seller owns
    active: bool = Field(default=True)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AssignmentRule(SQLModel, table=True):
    """Leads whose lead, contact and account meet `when` go to these sellers (those named, then
    the team's), by the strategy. Rules are tried in `position` order; the first match wins."""

    __tablename__ = "assignment_rule"
    __table_args__ = (Index("ix_assignment_rule_name", "name", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=100)
    position: int
    when: dict[str, Any] | None = Field(default=None, sa_type=JSONValue)
    strategy: str = Field(max_length=20)
    sellers: list[str] = Field(default_factory=list, sa_type=JSONValue)
    team: str | None = Field(default=None, max_length=100)
    # The handle round robin gave the rule's last lead.
    cursor: str | None = Field(default=None, max_length=200)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LeadAssignment(SQLModel, table=True):
    """A lead given an owner, or its owner changed: to whom, by which rule and strategy, why."""

    __tablename__ = "lead_assignment"
    __table_args__ = (Index("ix_lead_assignment_lead_id", "lead_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    lead_id: int = Field(
        sa_column=Column(Id, ForeignKey("lead.id", ondelete="CASCADE"), nullable=False)
    )
    owner: str | None = Field(default=None, max_length=200)
    previous_owner: str | None = Field(default=None, max_length=200)
    seller_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("seller.id", ondelete="SET NULL"))
    )
    rule_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("assignment_rule.id", ondelete="SET NULL"))
    )
    rule_name: str | None = Field(default=None, max_length=100)
    strategy: str = Field(max_length=20)  # round_robin, least_loaded, or manual
    reason: str = Field(max_length=2000)
    actor: str = Field(max_length=20)
    actor_name: str | None = Field(default=None, max_length=200)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
