"""/api/jobs: the scheduler's jobs, their runs, and a run now for admins."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath

from api.http.auth import EVERYONE, roles
from api.http.controllers.params import RecordId
from api.http.problems import Problem
from api.http.state import Services, services
from api.jobs.runner import JobStatus, status
from api.services.keys import Principal
from api.services.schemas.jobs import JobRead, JobRunRead
from api.storage import job_runs
from bpf.validation import suggest
from leads.errors import NotFound

READERS = roles(*EVERYONE)
RECENT = 20


def _job(parts: Services, name: str) -> str:
    if name not in parts.scheduler.runner.jobs:
        hint = suggest(name, parts.scheduler.runner.jobs)
        known = ", ".join(parts.scheduler.runner.jobs)
        raise Problem(
            404,
            "not-found",
            "Not found",
            f"there is no job '{name}'; " + (hint or f"the jobs are: {known}"),
        )
    return name


def _job_read(found: JobStatus) -> JobRead:
    job = found.job
    return JobRead(
        name=job.name,
        description=job.description,
        interval_seconds=job.interval,
        running=found.running is not None,
        holder=found.holder,
        current=JobRunRead.of(found.running) if found.running is not None else None,
        last_run=JobRunRead.of(found.last) if found.last is not None else None,
        queued=found.queued,
        failed_24h=found.failed_24h,
        next_run_at=found.next_run_at,
    )


class JobController(Controller):
    path = "/api/jobs"
    tags = ["jobs"]

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListJobs")
    def list(self, request: Request[Principal, Any, State]) -> list[JobRead]:
        """Every job: its interval, its last run (start, duration, records processed, error),
        whether it runs now and where, runs waiting, and when the next periodic run is due."""
        parts = services(request)
        return [_job_read(s) for s in status(parts.db, list(parts.scheduler.runner.jobs.values()))]

    @get("/{name:str}", opt=READERS, sync_to_thread=True, operation_id="GetJob")
    def read(self, request: Request[Principal, Any, State], name: FromPath[str]) -> JobRead:
        parts = services(request)
        job = parts.scheduler.runner.jobs[_job(parts, name)]
        return _job_read(status(parts.db, [job])[0])

    @get("/{name:str}/runs", opt=READERS, sync_to_thread=True, operation_id="ListJobRuns")
    def runs(
        self, request: Request[Principal, Any, State], name: FromPath[str]
    ) -> list[JobRunRead]:
        """The job's most recent runs, newest first."""
        parts = services(request)
        _job(parts, name)
        return [JobRunRead.of(r) for r in job_runs.recent(parts.db, name, RECENT)]

    @get(
        "/{name:str}/runs/{run_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetJobRun"
    )
    def run(
        self, request: Request[Principal, Any, State], name: FromPath[str], run_id: RecordId
    ) -> JobRunRead:
        parts = services(request)
        _job(parts, name)
        found = job_runs.run_of(parts.db, name, run_id)
        if found is None:
            raise NotFound(f"run of job '{name}'", run_id)
        return JobRunRead.of(found)

    @post(
        "/{name:str}/run",
        opt=roles(),
        sync_to_thread=True,
        status_code=202,
        operation_id="RunJobNow",
    )
    def run_now(
        self, request: Request[Principal, Any, State], name: FromPath[str]
    ) -> Response[JobRunRead]:
        """Ask for a run now. Whichever scheduler holds the job runs it: at once when this
        process runs one, else within LEADFLOW_JOB_POLL_SECONDS; after the run in progress,
        if there is one."""
        parts = services(request)
        _job(parts, name)
        run = job_runs.request(parts.db, name, request.user.name)
        parts.scheduler.wake(name)
        return Response(
            JobRunRead.of(run),
            status_code=202,
            headers={"Location": f"/api/jobs/{name}/runs/{run.id}"},
        )
