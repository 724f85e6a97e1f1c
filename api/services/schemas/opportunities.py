"""Disposition requests, opportunities and the disposition history, as the API shows them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, overload

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from api.services.schemas.activities import ActivityRead
from api.services.schemas.common import (
    SET_BY_SERVICE,
    VERSION,
    Day,
    Input,
    Reason,
    Text200,
    kept,
    read_only,
)
from api.services.schemas.leads import LeadRead
from leads.opportunities import (
    Disposition,
    Opportunity,
    OpportunityStatus,
    OpportunityStatusChange,
)

Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="An ISO 4217 code in capitals: EUR, USD, GBP."),
]
MONEY_MAX = Decimal("9999999999999.99")
_AMOUNT = r"[0-9]{1,13}(?:\.[0-9]{1,2})?"
CENT = Decimal("0.01")


def _amount(value: object) -> Decimal:
    if isinstance(value, str) and re.fullmatch(_AMOUNT, value):
        amount = Decimal(value)
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        amount = Decimal(str(value))
    else:
        raise ValueError('a number, or a decimal string of at most two decimals: "25000.50"')
    if 0 <= amount <= MONEY_MAX:
        return amount.quantize(CENT, ROUND_HALF_EVEN)
    raise ValueError(f"from 0 to {MONEY_MAX}")


Money = Annotated[
    Decimal,
    BeforeValidator(_amount),
    Field(description='A number, rounded to cents, or a decimal string such as "25000.50".'),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(MONEY_MAX)},
                {"type": "string", "pattern": f"^{_AMOUNT}$"},
            ]
        },
        mode="validation",
    ),
]


class QualifyRequest(Input):
    """Qualify an open lead into an opportunity."""

    estimated_value: Money
    currency: Currency
    name: Text200 | None = Field(
        default=None, description="The opportunity's name; the lead's topic if absent."
    )
    estimated_close_date: Day | None = None
    note: Reason | None = None


ReasonName = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class DisqualifyRequest(Input):
    reason: ReasonName = Field(
        description="One of the disqualify reasons of the lead's process (`disqualify_reasons` "
        "in GET /api/processes); by default lost, cannot_contact, no_longer_interested, canceled."
    )
    note: Reason | None = None


class ReopenRequest(Input):
    note: Reason | None = None


CLOSING = "changes through POST /api/opportunities/{id}/win, /lose or /reopen"


class OpportunityUpdate(Input):
    """Fields to change while the opportunity is open; absent fields stay as they are."""

    name: kept(Text200) = None
    estimated_value: kept(Money) = None
    currency: kept(Currency) = None
    estimated_close_date: Day | None = Field(default=None, description="null clears it.")
    # Changed elsewhere, never by this request: naming one is refused and nothing is applied.
    status: read_only(CLOSING) = None
    actual_value: read_only(CLOSING) = None
    closed_on: read_only(CLOSING) = None
    lost_reason: read_only(CLOSING) = None
    owner: SET_BY_SERVICE = None
    lead_id: SET_BY_SERVICE = None
    contact_id: SET_BY_SERVICE = None
    account_id: SET_BY_SERVICE = None
    id: SET_BY_SERVICE = None
    version: VERSION = None
    created_at: SET_BY_SERVICE = None
    updated_at: SET_BY_SERVICE = None


class WinRequest(Input):
    """The opportunity is won, for this amount in its currency."""

    actual_value: Money
    closed_on: Day | None = Field(
        default=None, description="The day it was won: today if absent, never in the future."
    )
    note: Reason | None = None


class LoseRequest(Input):
    reason: ReasonName = Field(
        description="One of `opportunities.lost_reasons` of stages.yaml; by default out_sold, "
        "no_budget, no_decision, timing, canceled."
    )
    closed_on: Day | None = Field(
        default=None, description="The day it was lost: today if absent, never in the future."
    )
    note: Reason | None = None


class OpportunityReopenRequest(Input):
    note: Reason = Field(description="Why the outcome no longer holds.")


class OpportunityRead(BaseModel):
    id: int
    name: str
    lead_id: int | None
    contact_id: int | None
    account_id: int | None
    estimated_value: float
    currency: str
    estimated_close_date: dt.date | None
    status: OpportunityStatus
    actual_value: float | None = Field(description="What it was won for.")
    closed_on: dt.date | None = Field(description="The day it was won or lost.")
    lost_reason: str | None
    owner: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, opportunity: Opportunity) -> OpportunityRead:
        assert opportunity.id is not None
        return cls(
            id=opportunity.id,
            name=opportunity.name,
            lead_id=opportunity.lead_id,
            contact_id=opportunity.contact_id,
            account_id=opportunity.account_id,
            estimated_value=units(opportunity.estimated_value_cents),
            currency=opportunity.currency,
            estimated_close_date=opportunity.estimated_close_date,
            status=OpportunityStatus(opportunity.status),
            actual_value=units(opportunity.actual_value_cents),
            closed_on=opportunity.closed_on,
            lost_reason=opportunity.lost_reason,
            owner=opportunity.owner,
            version=opportunity.version,
            created_at=opportunity.created_at,
            updated_at=opportunity.updated_at,
        )


def cents(amount: Decimal) -> int:
    """An amount (a Money, whole cents) as it is stored: in cents, exactly."""
    return int(amount * 100)


@overload
def units(stored: int) -> float: ...
@overload
def units(stored: int | None) -> float | None: ...
def units(stored: int | None) -> float | None:
    """An amount stored in cents, in the currency's units."""
    return None if stored is None else stored / 100


class OpportunityPage(BaseModel):
    items: list[OpportunityRead]
    next_cursor: str | None


class OpportunityStatusChangeRead(BaseModel):
    """Who won, lost or reopened the opportunity, when, why, and with what values."""

    id: int
    opportunity_id: int
    from_status: OpportunityStatus
    status: OpportunityStatus
    reason: str | None = Field(description="The lost reason.")
    note: str | None
    actual_value: float | None
    currency: str
    closed_on: dt.date | None
    actor: str
    actor_name: str | None
    at: dt.datetime

    @classmethod
    def of(cls, change: OpportunityStatusChange) -> OpportunityStatusChangeRead:
        assert change.id is not None
        return cls(
            id=change.id,
            opportunity_id=change.opportunity_id,
            from_status=OpportunityStatus(change.from_status),
            status=OpportunityStatus(change.status),
            reason=change.reason,
            note=change.note,
            actual_value=units(change.actual_value_cents),
            currency=change.currency,
            closed_on=change.closed_on,
            actor=change.actor,
            actor_name=change.actor_name,
            at=change.at,
        )


class OpportunityHistoryPage(BaseModel):
    items: list[OpportunityStatusChangeRead]
    next_cursor: str | None


class DispositionRead(BaseModel):
    id: int
    lead_id: int
    from_status: str
    status: str
    status_reason: str
    note: str | None
    opportunity_id: int | None
    actor: str
    actor_name: str | None
    at: dt.datetime

    @classmethod
    def of(cls, disposition: Disposition) -> DispositionRead:
        return cls.model_validate(disposition, from_attributes=True)


class DispositionPage(BaseModel):
    items: list[DispositionRead]
    next_cursor: str | None


class DispositionResult(BaseModel):
    """The lead as it is now, what closed or reopened it, and what followed."""

    lead: LeadRead
    disposition: DispositionRead
    opportunity: OpportunityRead | None = Field(description="The opportunity a qualification made.")
    canceled_activities: list[ActivityRead] = Field(
        description="Open activities of the lead, canceled because it was closed."
    )
