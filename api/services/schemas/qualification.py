"""Qualifications over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from api.services.schemas.activities import Description, DueIn
from api.services.schemas.common import Input, Text200
from leads.activities import ActivityKind
from scoring import qualification
from scoring.tables import Qualification

QualificationName = Annotated[str, StringConstraints(min_length=1, max_length=100)]

# Checked by scoring.qualification.parse, which names each problem by its path.
Criteria = Annotated[dict[str, Any], WithJsonSchema(qualification.json_schema())]
CRITERIA: dict[str, Any] = {
    "description": (
        "A test of a live lead scoring model, {'model': name, 'score_at_least': N} or "
        "{'model': name, 'grade_in': [grades]}, or a group of them, {'all': [...]} or "
        "{'any': [...]}, nested at most 5 groups deep, with at most 40 tests."
    ),
    "examples": [
        {
            "any": [
                {"model": "engagement", "score_at_least": 50},
                {
                    "all": [
                        {"model": "fit", "grade_in": ["A", "B"]},
                        {"model": "engagement", "score_at_least": 30},
                    ]
                },
            ]
        }
    ],
}


MAX_ACTIVITIES = 10


class ActivityAction(Input):
    """An activity a qualification makes for the owner of each lead it qualifies."""

    kind: ActivityKind
    subject: Text200
    due_in: DueIn = Field(description="Due this long after the lead is qualified.")
    description: Description | None = None


class Actions(Input):
    """What happens to an open lead that meets the criteria: at least one of the two marks."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"marketing_qualified": {"const": True}}},
                {"required": ["sales_ready"], "properties": {"sales_ready": {"const": True}}},
            ]
        }
    )

    marketing_qualified: bool = Field(
        default=True, description="Set the lead's status reason to marketing_qualified."
    )
    sales_ready: bool = Field(
        default=False,
        description="Mark the lead sales ready (under the automatic_sales_ready switch).",
    )
    activities: Annotated[list[ActivityAction], Field(max_length=MAX_ACTIVITIES)] = Field(
        default_factory=list,
        description="Activities made for the lead's owner when the qualification qualifies it.",
    )

    @model_validator(mode="after")
    def _something(self) -> Actions:
        if not (self.marketing_qualified or self.sales_ready):
            raise ValueError("at least one action: marketing_qualified or sales_ready")
        return self


class QualificationCreate(Input):
    name: QualificationName
    criteria: Criteria = Field(**CRITERIA)
    actions: Actions = Field(default_factory=Actions)


class QualificationUpdate(Input):
    name: QualificationName | None = None
    criteria: Criteria | None = Field(default=None, **CRITERIA)
    actions: Actions | None = None


class CriteriaWarning(BaseModel):
    field: str
    reason: str


class QualificationRead(BaseModel):
    id: int
    name: str
    status: str
    criteria: dict[str, Any]
    actions: Actions
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    warnings: list[CriteriaWarning] = Field(
        description="Tests that cannot hold as the scoring models are now (a model stopped, "
        "say): while published, such a test does not hold."
    )

    @classmethod
    def of(cls, row: Qualification, warnings: list[tuple[str, str]]) -> QualificationRead:
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            status=row.status,
            criteria=row.criteria,
            actions=Actions(
                marketing_qualified=row.sets_marketing_qualified,
                sales_ready=row.sets_sales_ready,
                activities=[ActivityAction.model_validate(a) for a in row.activities],
            ),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            published_at=row.published_at,
            warnings=[CriteriaWarning(field=f, reason=r) for f, r in warnings],
        )
