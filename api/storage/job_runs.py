"""The history of job runs, and the queue of runs asked for: a run asked for is a queued row
that whichever scheduler holds the job's lease picks up."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, case
from sqlmodel import Field, Session, SQLModel, col, select

from api.storage.db import Database
from leads.errors import Conflict
from leads.types import Id, JSONValue, UTCDateTime, utcnow
from scoring.tables import EvaluationRun, RunStatus

EVALUATION = "evaluation"
SCHEDULE = "schedule"  # who asks for the periodic runs
UNFINISHED = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)


class JobRun(SQLModel, table=True):
    __tablename__ = "job_run"
    __table_args__ = (
        # One periodic run per job and interval: two schedulers never both run the same tick.
        Index("ix_job_run_job_slot", "job", "slot", unique=True),
        Index("ix_job_run_job_status", "job", "status", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    job: str = Field(max_length=64)
    status: str = Field(default=RunStatus.QUEUED.value, max_length=10)
    # For a periodic run, the start of its interval in Unix seconds; None for runs asked for.
    slot: int | None = Field(default=None, sa_column=Column(Id, nullable=True))
    requested_by: str = Field(max_length=200)
    requested_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    holder: str | None = Field(default=None, max_length=200)
    attempts: int = 0  # starts; more than one means it was resumed
    processed: int = 0
    total: int | None = None
    checkpoint: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONValue, nullable=True)
    )
    error: str | None = Field(default=None, max_length=2000)
    evaluation_run_id: int | None = Field(
        default=None,
        sa_column=Column(Id, ForeignKey("evaluation_run.id", ondelete="SET NULL"), nullable=True),
    )

    @property
    def seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return max((end - self.started_at).total_seconds(), 0.0)


def queue(session: Session, job: str, requested_by: str, *, slot: int | None = None) -> JobRun:
    """Ask for a run of the job. An evaluation run gets its evaluation record too."""
    evaluation_id = None
    if job == EVALUATION:
        evaluation = EvaluationRun(status=RunStatus.QUEUED.value, as_of=utcnow())
        session.add(evaluation)
        session.flush()
        evaluation_id = evaluation.id
    run = JobRun(job=job, requested_by=requested_by, slot=slot, evaluation_run_id=evaluation_id)
    session.add(run)
    session.flush()
    return run


def queue_evaluation(session: Session, evaluation: EvaluationRun, requested_by: str) -> JobRun:
    """The run of the evaluation job that carries out this evaluation record."""
    session.flush()
    run = JobRun(job=EVALUATION, requested_by=requested_by, evaluation_run_id=evaluation.id)
    session.add(run)
    session.flush()
    return run


def unfinished(session: Session, job: str) -> JobRun | None:
    """The run to carry on first: one cut off midway, else the oldest asked for."""
    return session.exec(
        select(JobRun)
        .where(col(JobRun.job) == job, col(JobRun.status).in_(UNFINISHED))
        .order_by(case((col(JobRun.status) == RunStatus.RUNNING.value, 0), else_=1), col(JobRun.id))
    ).first()


def queued(session: Session, job: str) -> JobRun | None:
    return session.exec(
        select(JobRun)
        .where(col(JobRun.job) == job, col(JobRun.status) == RunStatus.QUEUED.value)
        .order_by(col(JobRun.id))
    ).first()


def request(db: Database, job: str, requested_by: str) -> JobRun:
    """Queue a run of the job that someone asked for, unless one is waiting to start already."""
    with db.write() as session:
        waiting = queued(session, job)
        if waiting is not None:
            raise Conflict(
                f"run {waiting.id} of job '{job}' is queued and has not started yet",
                slug="job-run-queued",
                title="A run is already queued",
                run_id=waiting.id,
            )
        return queue(session, job, requested_by)


def recent(db: Database, job: str, limit: int) -> list[JobRun]:
    """The job's most recent runs, newest first."""
    with db.read() as session:
        return list(
            session.exec(
                select(JobRun)
                .where(col(JobRun.job) == job)
                .order_by(col(JobRun.id).desc())
                .limit(limit)
            )
        )


def run_of(db: Database, job: str, run_id: int) -> JobRun | None:
    """The run, if there is one of that id and it is a run of the job."""
    with db.read() as session:
        found = session.get(JobRun, run_id)
    return found if found is not None and found.job == job else None


def of_slot(session: Session, job: str, slot: int) -> JobRun | None:
    return session.exec(
        select(JobRun).where(col(JobRun.job) == job, col(JobRun.slot) == slot)
    ).first()


def slot_of(moment: dt.datetime, interval: float) -> int:
    """The start, in Unix seconds, of the interval `moment` falls in (intervals are counted
    from the Unix epoch, so every scheduler agrees on them)."""
    step = max(int(interval), 1)
    return int(moment.timestamp()) // step * step
