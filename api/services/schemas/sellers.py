"""Sellers, assignment rules, assignments and the work queues over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.services.schemas.common import Input, Text100, Text200, given, kept
from api.services.schemas.leads import LeadRead
from leads.sellers import AssignmentRule, LeadAssignment, Seller
from scoring.definition import MAX_DEPTH, Test, depth
from scoring.routing import Strategy

Handle = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._@-]*$", max_length=200),
]
Capacity = Annotated[int, Field(ge=0, le=1_000_000)]
Position = Annotated[int, Field(ge=1, le=10_000)]
Handles = Annotated[list[Handle], Field(max_length=500, json_schema_extra={"uniqueItems": True})]


class SellerCreate(Input):
    handle: Handle = Field(
        description="Unique and fixed: what a lead's owner holds. Lower-case letters, digits, "
        "and . _ @ -."
    )
    name: Text200
    team: Text100 | None = None
    territory: Text100 | None = None
    capacity: Capacity = Field(default=50, description="The most open leads the seller owns.")
    active: bool = True


class SellerUpdate(Input):
    """Fields to change; absent fields stay as they are. `active: false` deactivates: the
    seller keeps their leads and gets no new ones."""

    name: kept(Text200) = None
    team: Text100 | None = None
    territory: Text100 | None = None
    capacity: kept(Capacity) = None
    active: kept(bool) = None


class SellerRead(BaseModel):
    id: int
    handle: str
    name: str
    team: str | None
    territory: str | None
    capacity: int
    active: bool
    open_leads: int = Field(description="Open leads the seller owns: what capacity counts.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, seller: Seller, open_leads: int) -> SellerRead:
        assert seller.id is not None
        return cls(
            id=seller.id,
            handle=seller.handle,
            name=seller.name,
            team=seller.team,
            territory=seller.territory,
            capacity=seller.capacity,
            active=seller.active,
            open_leads=open_leads,
            version=seller.version,
            created_at=seller.created_at,
            updated_at=seller.updated_at,
        )


class SellerPage(BaseModel):
    items: list[SellerRead]
    next_cursor: str | None


def _shallow(test: Test | None) -> None:
    if test is not None and depth(test) > MAX_DEPTH:
        raise ValueError(f"conditions nest at most {MAX_DEPTH} groups deep")


class RuleCreate(Input):
    """A rule names its sellers, a team, or both."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["sellers"], "properties": {"sellers": {"minItems": 1}}},
                given(["team"]),
            ]
        }
    )

    name: Text100
    position: Position | None = Field(
        default=None, description="Where the rule goes, from 1 (tried first); default: last."
    )
    when: Test | None = Field(
        default=None,
        description="Conditions on lead., contact. and account. fields, as in scoring rules; "
        "absent: every lead.",
    )
    strategy: Strategy
    sellers: Handles = Field(default_factory=list, description="Sellers, by handle, in order.")
    team: Text100 | None = Field(default=None, description="And every seller of this team.")

    @model_validator(mode="after")
    def _coherent(self) -> RuleCreate:
        _shallow(self.when)
        if not self.sellers and self.team is None:
            raise ValueError("a rule names its sellers, a team, or both")
        if len(set(self.sellers)) != len(self.sellers):
            raise ValueError("a rule names each seller once")
        return self


class RuleUpdate(Input):
    """Fields to change; `when: null` makes the rule match every lead. Changing `position`
    moves the rule and renumbers the others."""

    name: kept(Text100) = None
    position: kept(Position) = None
    when: Test | None = None
    strategy: kept(Strategy) = None
    sellers: kept(Handles) = None
    team: Text100 | None = None

    @model_validator(mode="after")
    def _coherent(self) -> RuleUpdate:
        _shallow(self.when)
        if self.sellers is not None and len(set(self.sellers)) != len(self.sellers):
            raise ValueError("a rule names each seller once")
        return self


class RuleRead(BaseModel):
    id: int
    name: str
    position: int
    when: Test | None
    strategy: Strategy
    sellers: list[str]
    team: str | None
    last_assigned: str | None = Field(description="The seller round robin gave the last lead.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, rule: AssignmentRule) -> RuleRead:
        assert rule.id is not None
        return cls(
            id=rule.id,
            name=rule.name,
            position=rule.position,
            when=rule.when,  # type: ignore[arg-type]
            strategy=Strategy(rule.strategy),
            sellers=list(rule.sellers),
            team=rule.team,
            last_assigned=rule.cursor,
            version=rule.version,
            created_at=rule.created_at,
            updated_at=rule.updated_at,
        )


class AssignmentRead(BaseModel):
    id: int
    lead_id: int
    owner: str | None
    previous_owner: str | None
    rule_id: int | None
    rule_name: str | None
    strategy: str = Field(
        description="round_robin, least_loaded, manual (set by an admin), import (a CSV "
        "import's owner column), take or hand_off."
    )
    reason: str
    actor: str
    actor_name: str | None
    at: dt.datetime

    @classmethod
    def of(cls, row: LeadAssignment) -> AssignmentRead:
        return cls.model_validate(row, from_attributes=True)


class AssignmentPage(BaseModel):
    items: list[AssignmentRead]
    next_cursor: str | None


class QueueContact(BaseModel):
    """Who to reach: the lead's parent contact; the lead's own email when it has none."""

    id: int | None = Field(description="The parent contact; null when the lead has none.")
    name: str | None
    company: str | None
    email: str | None
    phone: str | None


class QueueScore(BaseModel):
    model_id: int
    model: str
    score: float
    grade: str | None


class NextActivity(BaseModel):
    id: int
    kind: str
    subject: str
    owner: str | None
    due_at: dt.datetime


class QueueItem(BaseModel):
    lead: LeadRead
    score: float | None = Field(description="The sort's score: the highest of live models'.")
    qualified_at: dt.datetime = Field(description="When the lead entered its stage.")
    seconds_in_stage: float = Field(description="How long the lead has been in its stage.")
    contact: QueueContact
    scores: list[QueueScore] = Field(description="The lead's score by each live model.")
    next_activity: NextActivity | None = Field(
        description="The open activity due first; null when there is none."
    )


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class WaitingItem(BaseModel):
    lead: LeadRead
    reason: str = Field(description="Why nobody can take the lead now.")


class WaitingPage(BaseModel):
    items: list[WaitingItem]
    next_cursor: str | None


class RoutedLead(BaseModel):
    lead_id: int
    owner: str
    rule_id: int
    strategy: str
    reason: str


class RouteResult(BaseModel):
    assigned: list[RoutedLead]
    waiting: int = Field(description="Leads still in the unassigned queue.")
