"""Interactions as the API accepts and returns them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.services.schemas.common import AttributeName, Input, Instant, PositiveId, given
from leads.models import Interaction

BATCH_MAX = 1000

Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
PropertyValue = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None


class InteractionIn(Input):
    """An interaction of a contact, of a lead, or of both."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [given(["contact_id"]), given(["lead_id"])]}
    )

    kind: Kind = Field(description="email_open, page_visit, form_submit, ... or a custom kind.")
    occurred_at: Instant
    contact_id: PositiveId | None = None
    lead_id: PositiveId | None = Field(
        default=None,
        description="Credit a specific lead; without it the interaction counts for every lead "
        "of the contact.",
    )
    target: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None, description="What was interacted with: the email, page, form or event."
    )
    properties: Annotated[dict[AttributeName, PropertyValue], Field(max_length=50)] = Field(
        default_factory=dict
    )
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="The sender's id: an interaction is stored once per id."
    )


class InteractionBatch(Input):
    interactions: Annotated[list[InteractionIn], Field(min_length=1, max_length=BATCH_MAX)]


class Accepted(BaseModel):
    index: int
    id: int
    duplicate: bool = Field(description="Already stored under this external_id; not stored again.")


class BatchResult(BaseModel):
    accepted: list[Accepted]


class InteractionRead(BaseModel):
    id: int
    kind: str
    occurred_at: dt.datetime
    contact_id: int | None
    lead_id: int | None
    target: str | None
    properties: dict[str, Any]
    external_id: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, interaction: Interaction) -> InteractionRead:
        return cls.model_validate(interaction, from_attributes=True)


class InteractionPage(BaseModel):
    items: list[InteractionRead]
    next_cursor: str | None
