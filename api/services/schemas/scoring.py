"""Scoring models, configurations, evaluations, scores and insights over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.services.schemas.common import Input, Text200
from scoring.definition import Points, ScoringDefinition
from scoring.tables import EvaluationRun, ScoringConfiguration, ScoringModel

ModelName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ModelCreate(Input):
    name: ModelName
    definition: ScoringDefinition


class ModelUpdate(Input):
    name: ModelName | None = None
    definition: ScoringDefinition | None = None


class ModelRead(BaseModel):
    id: int
    name: str
    status: str
    definition: ScoringDefinition
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    live_since: dt.datetime | None

    @classmethod
    def of(cls, model: ScoringModel) -> ModelRead:
        assert model.id is not None
        return cls(
            id=model.id,
            name=model.name,
            status=model.status,
            definition=ScoringDefinition.model_validate(model.definition),
            version=model.version,
            created_at=model.created_at,
            updated_at=model.updated_at,
            live_since=model.live_since,
        )


class ConfigurationCreate(Input):
    name: Text200
    automatic_sales_ready: bool = True
    automated_marketing_qualification: bool = True
    automatic_lead_score_cleanup: bool = True


class ConfigurationRead(BaseModel):
    id: int | None = Field(description="Null when no configuration exists and the defaults apply.")
    name: str
    automatic_sales_ready: bool
    automated_marketing_qualification: bool
    automatic_lead_score_cleanup: bool
    created_at: dt.datetime | None

    @classmethod
    def of(cls, config: ScoringConfiguration) -> ConfigurationRead:
        return cls.model_validate(config, from_attributes=True)


class RunRead(BaseModel):
    id: int
    model_id: int | None
    status: str
    as_of: dt.datetime
    total: int
    done: int
    changed: int
    outcomes: int
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, run: EvaluationRun) -> RunRead:
        return cls.model_validate(run, from_attributes=True)


class CountedRead(BaseModel):
    id: int
    kind: str
    occurred_at: dt.datetime
    weight: float = Field(description="1, or the share of the rule's points left after decay.")
    expires_at: dt.datetime | None


class ContributionRead(BaseModel):
    rule: str
    type: str
    points: float
    held: bool | None = Field(default=None, description="Attribute rules: the condition holds.")
    occurrences: int | None = Field(default=None, description="Behaviour rules: how many count.")
    interactions: list[CountedRead] = Field(default_factory=list)
    expires_at: dt.datetime | None = Field(
        description="When, if nothing new happens, these points change."
    )


class ModelScoreRead(BaseModel):
    model_id: int
    model: str
    status: str
    scored: bool
    reason: str | None = Field(default=None, description="Why the record is not scored.")
    score: float | None
    grade: str | None
    sales_ready: bool = Field(description="The score reached the model's sales-ready score.")
    stale: bool = Field(description="The model was stopped; the score is no longer updated.")
    as_of: dt.datetime | None
    next_change_at: dt.datetime | None
    contributions: list[ContributionRead]


class Bucket(BaseModel):
    low: float
    high: float
    count: int


class InsightsRead(BaseModel):
    model_id: int
    scored: int
    sales_ready: int
    top_10_percent_threshold: float | None = Field(
        description="The lowest score among the best-scored tenth."
    )
    histogram: list[Bucket]
    grades: dict[str, int]


class WhatIf(Input):
    definition: ScoringDefinition | None = Field(
        default=None, description="Evaluate this definition instead of the model's."
    )
    sales_ready_score: Points | None = Field(
        default=None, description="Evaluate the model with this sales-ready score."
    )


class WhatIfRead(BaseModel):
    scored: int
    histogram: list[Bucket]
    grades: dict[str, int]
    would_become_sales_ready: int = Field(
        description="Open leads not sales ready now that the candidate would make sales ready."
    )
    would_change_grade: int = Field(description="Scored leads whose grade would differ.")
    would_be_newly_scored: int
    would_lose_score: int
