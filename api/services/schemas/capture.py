"""Matching strategies, forms, events, submissions and lead-gen sources."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.services.schemas.common import Input, Instant, Text200
from api.services.schemas.contacts import ConsentGiven
from leads.matching import FIELDS, Entity
from leads.models import Form, LeadgenSource, MatchingStrategy

Slug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
FieldValue = Annotated[str, StringConstraints(max_length=10_000)] | int | float | bool | None
Path = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class StrategyCreate(Input):
    """A strategy compares each field once; which fields depends on the entity."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "properties": {
                        "entity": {"const": entity.value},
                        "fields": {"items": {"enum": list(names)}, "uniqueItems": True},
                    }
                }
                for entity, names in FIELDS.items()
            ]
        }
    )

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    entity: Entity
    fields: Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(min_length=1)]
    default: bool = Field(
        default=False, description="Used by forms that name no strategy of their own."
    )


class StrategyRead(BaseModel):
    id: int
    name: str
    entity: Entity
    fields: list[str]
    default: bool

    @classmethod
    def of(cls, row: MatchingStrategy) -> StrategyRead:
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            entity=Entity(row.entity),
            fields=row.fields,
            default=row.is_default,
        )


class FormCreate(Input):
    id: Slug
    name: Text200
    kind: Literal["form", "event"] = "form"
    contact_strategy: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="A contact matching strategy by name; default if absent."
    )
    lead_strategy: Annotated[str, StringConstraints(max_length=100)] | None = None


class FormRead(BaseModel):
    id: str
    name: str
    kind: str
    contact_strategy_id: int | None
    lead_strategy_id: int | None
    created_at: dt.datetime

    @classmethod
    def of(cls, form: Form) -> FormRead:
        return cls.model_validate(form, from_attributes=True)


# What api.services.capture takes as a field's name (it says which names are not); stated here
# for the document only, so that the reason given stays the service's.
FieldName = Annotated[
    str,
    StringConstraints(max_length=64),
    Field(json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}),
]


class SubmissionIn(Input):
    fields: Annotated[
        dict[FieldName, FieldValue],
        Field(
            max_length=100,
            description="Contact fields (email, first_name, last_name, job_title, company, phone, "
            "country, industry), the lead's topic, and any other answer, kept on the lead.",
        ),
    ]
    submitted_at: Instant | None = None
    consent: ConsentGiven | None = None
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class RecordOutcome(BaseModel):
    id: int | None = Field(description="Null in a dry run that would create a record.")
    action: Literal["created", "updated", "unchanged", "would create", "would update"]
    match: dict[str, Any]


class SubmissionResult(BaseModel):
    dry_run: bool
    contact: RecordOutcome
    lead: RecordOutcome
    interaction_id: int | None
    interaction_duplicate: bool = False


class LeadgenSourceCreate(Input):
    id: Slug
    form_id: Slug
    mapping: Annotated[
        dict[Annotated[str, StringConstraints(max_length=64)], Path],
        Field(
            min_length=1,
            max_length=100,
            description="Submission field -> where it is in the external payload: dotted keys, "
            "list positions, and [key=value] to pick a list item, e.g. "
            "answers[question=email].value. The keys external_id and submitted_at (ISO text or "
            "epoch milliseconds) fill those parts of the submission.",
        ),
    ]


class LeadgenSourceRead(BaseModel):
    id: str
    form_id: str
    mapping: dict[str, str]
    created_at: dt.datetime

    @classmethod
    def of(cls, source: LeadgenSource) -> LeadgenSourceRead:
        return cls.model_validate(source, from_attributes=True)
