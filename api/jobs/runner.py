"""Running jobs under their leases: one run of a job at a time, everywhere; a run cut off is
carried on from its checkpoint by whichever scheduler next holds the lease; each interval's
run is made once (a unique row per job and interval)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

import bpf
from api.jobs.definitions import Job, JobContext, defined
from api.settings import Settings
from api.storage import job_runs
from api.storage.db import Database, unavailable
from api.storage.job_runs import JobRun
from api.storage.leases import Interrupted, JobLease, Lease, holder_name
from leads.types import utcnow
from scoring.tables import RunStatus

log = logging.getLogger("leadflow.jobs")

Progress = Callable[[JobRun], None]


class JobRunner:
    """Runs the jobs of this process; `holder` names it in the leases it takes."""

    def __init__(
        self, db: Database, catalog: Callable[[], bpf.Catalog], settings: Settings
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.settings = settings
        self.jobs = {job.name: job for job in defined(settings)}
        self.holder = holder_name()
        self.stopping = threading.Event()
        self._locks = {name: threading.Lock() for name in self.jobs}

    def take(self, name: str) -> Lease | None:
        return Lease.take(
            self.db,
            name,
            self.holder,
            self.settings.lease_seconds,
            self.settings.heartbeat_seconds,
        )

    def due(self, name: str, periodic: bool) -> bool:
        """Whether the job has work no live holder is doing: a run asked for or cut off, or,
        when periodic, this interval's run not made yet."""
        job = self.jobs[name]
        now = utcnow()
        with self.db.read() as session:
            lease = session.get(JobLease, name)
            if lease is not None and lease.holder is not None and lease.expires_at > now:
                return False
            if job_runs.unfinished(session, name) is not None:
                return True
            slot = job_runs.slot_of(now, job.interval)
            return periodic and job_runs.of_slot(session, name, slot) is None

    def run_pending(
        self,
        name: str,
        periodic: bool = True,
        *,
        only: int | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Under the job's lease, if it can be had now: carry on the runs cut off, then those
        asked for, then (periodic) this interval's run; with `only`, that run alone. Return
        how many runs ended."""
        lock = self._locks[name]
        if not lock.acquire(blocking=False):
            return 0
        ended = 0
        try:
            lease = self.take(name)
            if lease is None:
                return 0
            with lease:
                while not self.stopping.is_set() and not lease.lost.is_set():
                    run_id = self._next(self.jobs[name], lease, periodic, only)
                    if run_id is None:
                        break
                    self._execute(self.jobs[name], run_id, lease, progress)
                    ended += 1
                    if only is not None:
                        break
        except Interrupted as exc:
            log.info("job %s: stopped (%s); it is resumed from its checkpoint", name, exc)
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.warning("job %s: the database is unavailable (%s); resumed later", name, exc)
        finally:
            lock.release()
        return ended

    def run_now(
        self, name: str, run_id: int, progress: Progress | None = None, wait: float = 3600
    ) -> JobRun:
        """Carry out this run in the foreground, waiting for the job's lease while another
        holds it; return it as it ended."""
        deadline = time.monotonic() + wait
        while self.run_pending(name, periodic=False, only=run_id, progress=progress) == 0:
            with self.db.read() as session:
                run = session.get(JobRun, run_id)
            assert run is not None
            if run.status not in job_runs.UNFINISHED or self.stopping.is_set():
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"the lease on job '{name}' was not free within {wait} s")
            time.sleep(min(self.settings.heartbeat_seconds, 1.0))
        with self.db.read() as session:
            run = session.get(JobRun, run_id)
        assert run is not None
        return run

    def _next(self, job: Job, lease: Lease, periodic: bool, only: int | None) -> int | None:
        with self.db.write() as session:
            lease.fence(session)
            if only is not None:
                run = session.get(JobRun, only)
                return only if run is not None and run.status in job_runs.UNFINISHED else None
            run = job_runs.unfinished(session, job.name)
            if run is None and periodic:
                slot = job_runs.slot_of(utcnow(), job.interval)
                if job_runs.of_slot(session, job.name, slot) is None:
                    run = job_runs.queue(session, job.name, job_runs.SCHEDULE, slot=slot)
            return None if run is None else run.id

    def _execute(self, job: Job, run_id: int, lease: Lease, progress: Progress | None) -> None:
        with self.db.write() as session:
            lease.fence(session)
            run = session.get(JobRun, run_id)
            assert run is not None
            run.started_at = run.started_at or utcnow()
            run.status = RunStatus.RUNNING.value
            run.attempts += 1
            run.holder = lease.holder
        log.info(
            "job %s: run %s %s", job.name, run_id, "resumed" if run.attempts > 1 else "started"
        )
        context = JobContext(
            self.db, self.catalog(), self.settings, run, lease, self.stopping, progress
        )
        try:
            job.run(context)
        except Exception as exc:
            if isinstance(exc, Interrupted) or unavailable(exc):
                raise
            log.exception("job %s: run %s failed", job.name, run_id)
            self._finish(run_id, lease, RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
            return
        self._finish(run_id, lease, RunStatus.DONE, None)
        log.info("job %s: run %s done, %s processed", job.name, run_id, context.run.processed)

    def _finish(self, run_id: int, lease: Lease, status: RunStatus, error: str | None) -> None:
        with self.db.write() as session:
            lease.fence(session)
            run = session.get(JobRun, run_id)
            assert run is not None
            run.status = status.value
            run.error = error[:2000] if error else None
            run.finished_at = utcnow()


@dataclass(frozen=True)
class JobStatus:
    job: Job
    last: JobRun | None
    running: JobRun | None
    holder: str | None
    queued: int
    failed_24h: int
    next_run_at: dt.datetime


def status(db: Database, jobs: list[Job]) -> list[JobStatus]:
    """Each job as the database knows it, whichever process runs it."""
    now = utcnow()
    found = []
    with db.read() as session:
        for job in jobs:
            last = session.exec(
                select(JobRun)
                .where(col(JobRun.job) == job.name, col(JobRun.started_at).is_not(None))
                .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
            ).first()
            lease = session.get(JobLease, job.name)
            held = lease is not None and lease.holder is not None and lease.expires_at > now
            running = session.exec(
                select(JobRun).where(
                    col(JobRun.job) == job.name, col(JobRun.status) == RunStatus.RUNNING.value
                )
            ).first()
            queued = session.exec(
                select(func.count()).where(
                    col(JobRun.job) == job.name, col(JobRun.status) == RunStatus.QUEUED.value
                )
            ).one()
            failed = session.exec(
                select(func.count()).where(
                    col(JobRun.job) == job.name,
                    col(JobRun.status) == RunStatus.FAILED.value,
                    col(JobRun.finished_at) >= now - dt.timedelta(days=1),
                )
            ).one()
            slot = job_runs.slot_of(now, job.interval)
            made = job_runs.of_slot(session, job.name, slot) is not None
            next_at = (
                dt.datetime.fromtimestamp(slot + max(int(job.interval), 1), dt.UTC) if made else now
            )
            found.append(
                JobStatus(
                    job,
                    last,
                    running if held else None,
                    lease.holder if held and lease is not None else None,
                    int(queued),
                    int(failed),
                    next_at,
                )
            )
    return found
