"""Scoring records: models, their scores, the configuration switches, evaluation runs."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from leads.types import Id, JSONValue, UTCDateTime, utcnow


class ModelStatus(StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    STOPPED = "stopped"


class ScoringModel(SQLModel, table=True):
    __tablename__ = "scoring_model"
    __table_args__ = (Index("ix_scoring_model_name", "name", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=100)
    status: str = Field(default=ModelStatus.DRAFT.value, max_length=10)
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=JSONValue)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    live_since: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class _ScoreColumns(SQLModel):
    score: float
    grade: str | None = Field(default=None, max_length=40)
    reached: bool = Field(default=False)  # at or above the model's sales-ready score
    stale: bool = Field(default=False)  # kept after the model stopped; no longer updated
    # The evaluation time these values hold for; an explanation is computed as of it.
    as_of: dt.datetime = Field(sa_type=UTCDateTime)


class LeadScore(_ScoreColumns, table=True):
    __tablename__ = "lead_score"
    __table_args__ = (
        Index("ix_lead_score_lead_id", "lead_id"),
        Index("ix_lead_score_model_score", "model_id", "score", "lead_id"),
    )

    model_id: int = Field(
        sa_column=Column(Id, ForeignKey("scoring_model.id", ondelete="CASCADE"), primary_key=True)
    )
    lead_id: int = Field(
        sa_column=Column(Id, ForeignKey("lead.id", ondelete="CASCADE"), primary_key=True)
    )


class AccountScore(_ScoreColumns, table=True):
    __tablename__ = "account_score"
    __table_args__ = (Index("ix_account_score_account_id", "account_id"),)

    model_id: int = Field(
        sa_column=Column(Id, ForeignKey("scoring_model.id", ondelete="CASCADE"), primary_key=True)
    )
    account_id: int = Field(
        sa_column=Column(Id, ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    )


class ScoringConfiguration(SQLModel, table=True):
    """The switches. The most recently created configuration is in effect; with none, every
    switch is on."""

    __tablename__ = "scoring_configuration"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=200)
    automatic_sales_ready: bool = True
    automated_marketing_qualification: bool = True
    automatic_lead_score_cleanup: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class EvaluationRun(SQLModel, table=True):
    """One full evaluation: of every live model, or of one model going live."""

    __tablename__ = "evaluation_run"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    model_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("scoring_model.id", ondelete="SET NULL"))
    )
    status: str = Field(default=RunStatus.RUNNING.value, max_length=10)
    as_of: dt.datetime = Field(sa_type=UTCDateTime)
    total: int = 0  # records to evaluate
    done: int = 0
    changed: int = 0  # scores written or removed
    outcomes: int = 0  # leads whose outcomes were fired
    error: str | None = Field(default=None, max_length=2000)
    started_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last chunk written: its entity ("lead", then "account") and last id. Written in the
    # chunk's transaction, so a run cut off resumes after it, with the same as_of.
    checkpoint_entity: str | None = Field(default=None, max_length=10)
    checkpoint_id: int | None = Field(default=None, sa_column=Column(Id, nullable=True))


class QualificationStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    STOPPED = "stopped"


class Qualification(SQLModel, table=True):
    """Criteria over live scoring models, and what happens to an open lead that meets them.
    Published, it qualifies leads; its criteria change only while it is a draft or stopped."""

    __tablename__ = "qualification"
    __table_args__ = (Index("ix_qualification_name", "name", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=100)
    status: str = Field(default=QualificationStatus.DRAFT.value, max_length=10)
    criteria: dict[str, Any] = Field(default_factory=dict, sa_type=JSONValue)
    # The actions: the status reason becomes marketing_qualified; the lead is marked sales ready;
    # activities are made for its owner (bpf.ActivityDef fields, one dict each).
    sets_marketing_qualified: bool = True
    sets_sales_ready: bool = False
    activities: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONValue)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
