"""Leads as the API accepts and returns them. Table models never cross the HTTP boundary."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.services.schemas.common import (
    SET_BY_SERVICE,
    VERSION,
    Attributes,
    Email,
    Input,
    PositiveId,
    Reason,
    Text200,
    given,
    kept,
    read_only,
)
from leads.models import ContextKind, Lead, LeadRow, LeadStatus, StageChange
from leads.opportunities import Opportunity, OpportunityStatus


class MarketingContext(Input):
    """What the lead expressed interest in: a campaign, a form or a page."""

    kind: ContextKind
    id: Text200


class LeadCreate(Input):
    topic: Text200
    email: Email | None = None
    marketing_context: MarketingContext | None = None
    parent_contact_id: PositiveId | None = None
    parent_account_id: PositiveId | None = None
    owner: Text200 | None = None
    sales_ready: bool = False
    attributes: Attributes = Field(default_factory=dict)
    process: Text200 | None = Field(
        default=None, description="The process the lead walks; the default process if absent."
    )


STAGE = read_only("changes through POST /api/leads/{id}/stage")
PROCESS = read_only('changes through POST /api/leads/{id}/stage with {"process": ...}')
STATUS = read_only(
    "changes through POST /api/leads/{id}/qualify, /disqualify or /reopen, which keep who "
    "did it and why"
)
SCORE = read_only("computed by the scoring models; see GET /api/leads/{id}/scores")


class LeadUpdate(Input):
    """Fields to change; absent fields stay as they are, null clears a field."""

    topic: kept(Text200) = None
    email: Email | None = None
    marketing_context: MarketingContext | None = None
    parent_contact_id: PositiveId | None = None
    parent_account_id: PositiveId | None = None
    owner: Text200 | None = Field(default=None, description="Admins only.")
    sales_ready: kept(bool) = None
    status_reason: kept(Text200) = None
    attributes: Attributes | None = Field(
        default=None, description="Merged into the lead's attributes; a null value removes a key."
    )
    # Changed elsewhere, never by this request: naming one is refused and nothing is applied.
    stage: STAGE = None
    process: PROCESS = None
    stage_entered_at: STAGE = None
    status: STATUS = None
    score: SCORE = None
    id: SET_BY_SERVICE = None
    version: VERSION = None
    missing_steps: SET_BY_SERVICE = None
    opportunity: read_only(
        "set by POST /api/leads/{id}/qualify; the opportunity changes through "
        "/api/opportunities/{id}"
    ) = None
    created_at: SET_BY_SERVICE = None
    updated_at: SET_BY_SERVICE = None


class MoveRequest(Input):
    """Exactly one of: action 'next', a trigger, a stage to switch to, or a process to switch to.
    Switching to a chosen stage or process needs a reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                given(["action"], absent=["trigger", "to", "process"]),
                given(["trigger"], absent=["action", "to", "process"]),
                given(["to", "reason"], absent=["action", "trigger", "process"]),
                given(["process", "reason"], absent=["action", "trigger"]),
            ]
        }
    )

    action: Literal["next"] | None = None
    trigger: Text200 | None = None
    to: Text200 | None = Field(default=None, description="A stage of the lead's process.")
    process: Text200 | None = Field(
        default=None, description="Switch process; lands on `to` or the process's first stage."
    )
    reason: Reason | None = None


class LeadOutcome(BaseModel):
    """The lead's outcome: its opportunity, open, won or lost."""

    id: int
    status: OpportunityStatus

    @classmethod
    def of(cls, opportunity: Opportunity) -> LeadOutcome:
        assert opportunity.id is not None
        return cls(id=opportunity.id, status=OpportunityStatus(opportunity.status))


class LeadRead(BaseModel):
    id: int
    topic: str
    email: str | None
    marketing_context: MarketingContext | None
    parent_contact_id: int | None
    parent_account_id: int | None
    status: LeadStatus
    status_reason: str
    sales_ready: bool
    owner: str | None
    process: str
    stage: str
    stage_entered_at: dt.datetime
    missing_steps: list[str] = Field(
        description="Required steps of the active stage that are not filled yet."
    )
    attributes: dict[str, Any]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    opportunity: LeadOutcome | None = Field(
        default=None, description="The opportunity the lead was qualified into, if any."
    )

    @classmethod
    def of(cls, lead: Lead | LeadRow, missing_steps: list[str]) -> LeadRead:
        v = lead.values if isinstance(lead, LeadRow) else {n: getattr(lead, n) for n in FIELDS}
        kind, ident = v["context_kind"], v["context_id"]
        return cls(
            id=v["id"],
            topic=v["topic"],
            email=v["email"],
            marketing_context=MarketingContext(kind=kind, id=ident) if kind and ident else None,
            parent_contact_id=v["parent_contact_id"],
            parent_account_id=v["parent_account_id"],
            status=v["status"],
            status_reason=v["status_reason"],
            sales_ready=v["sales_ready"],
            owner=v["owner"],
            process=v["process"],
            stage=v["stage"],
            stage_entered_at=v["stage_entered_at"],
            missing_steps=missing_steps,
            attributes=v["attributes"],
            version=v["version"],
            created_at=v["created_at"],
            updated_at=v["updated_at"],
        )


FIELDS = tuple(Lead.model_fields)


class LeadPage(BaseModel):
    items: list[LeadRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class StageChangeRead(BaseModel):
    id: int
    from_process: str | None
    process: str
    from_stage: str
    to_stage: str
    trigger: str | None
    actor: str
    actor_name: str | None
    reason: str | None
    at: dt.datetime
    seconds_in_stage: float | None = Field(description="Time spent in the stage the lead left.")

    @classmethod
    def of(cls, change: StageChange) -> StageChangeRead:
        return cls.model_validate(change, from_attributes=True)


class HistoryPage(BaseModel):
    items: list[StageChangeRead]
    next_cursor: str | None
