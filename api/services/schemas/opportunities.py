"""Disposition requests, opportunities and the disposition history, as the API shows them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from api.services.schemas.activities import ActivityRead
from api.services.schemas.common import Day, Input, Reason, Text200
from api.services.schemas.leads import LeadRead
from leads.opportunities import Disposition, Opportunity, OpportunityStatus

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


class DisqualifyRequest(Input):
    reason: Literal["lost", "cannot_contact", "no_longer_interested", "canceled"]
    note: Reason | None = None


class ReopenRequest(Input):
    note: Reason | None = None


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
            estimated_value=opportunity.estimated_value_cents / 100,
            currency=opportunity.currency,
            estimated_close_date=opportunity.estimated_close_date,
            status=OpportunityStatus(opportunity.status),
            owner=opportunity.owner,
            version=opportunity.version,
            created_at=opportunity.created_at,
            updated_at=opportunity.updated_at,
        )


class OpportunityPage(BaseModel):
    items: list[OpportunityRead]
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
