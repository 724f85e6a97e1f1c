"""Jobs and their runs over HTTP."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from api.storage.job_runs import JobRun


class JobRunRead(BaseModel):
    id: int
    job: str
    status: str = Field(description="queued, running, done or failed")
    requested_by: str = Field(description="'schedule' for the periodic runs, else who asked")
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    seconds: float | None = Field(description="How long it ran (so far, while it runs).")
    processed: int = Field(description="Records processed: leads and accounts scored, ...")
    total: int | None
    resumed: bool = Field(description="It was cut off and carried on from its checkpoint.")
    error: str | None
    evaluation_id: int | None

    @classmethod
    def of(cls, run: JobRun) -> JobRunRead:
        assert run.id is not None
        return cls(
            id=run.id,
            job=run.job,
            status=run.status,
            requested_by=run.requested_by,
            requested_at=run.requested_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            seconds=run.seconds,
            processed=run.processed,
            total=run.total,
            resumed=run.attempts > 1,
            error=run.error,
            evaluation_id=run.evaluation_run_id,
        )


class JobRead(BaseModel):
    name: str
    description: str
    interval_seconds: float
    running: bool = Field(description="A scheduler holds the job's lease and runs it now.")
    holder: str | None = Field(description="host:pid:id of the process running it.")
    current: JobRunRead | None = Field(description="The run in progress, with its progress.")
    last_run: JobRunRead | None = Field(description="The run started most recently.")
    queued: int = Field(description="Runs asked for and not started yet.")
    failed_24h: int = Field(description="Runs that failed in the last 24 hours.")
    next_run_at: dt.datetime = Field(
        description="When the next periodic run is due (now when this interval's is not made)."
    )
