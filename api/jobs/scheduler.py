"""The scheduler: APScheduler 3 in this process, waking the jobs on their intervals and when
asked. It holds nothing itself: every run goes through the job's lease in the database, so
any number of schedulers (embedded in `leadflow serve`, or `leadflow scheduler` processes)
share the work without running a job twice at once."""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from api.jobs.runner import JobRunner
from api.settings import Settings
from api.storage import job_runs
from api.storage.db import unavailable

log = logging.getLogger("leadflow.jobs")

# Intervals are counted from the Unix epoch: every scheduler wakes at the same instants.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
POLL = "poll"


class Scheduler:
    def __init__(self, runner: JobRunner, settings: Settings) -> None:
        self.runner = runner
        self.settings = settings
        self.periodic = settings.periodic_jobs
        self._scheduler: BackgroundScheduler | None = None
        self._unavailable = False

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Start the jobs' clocks, and look at once for runs to resume or asked for."""
        scheduler = BackgroundScheduler(
            timezone=dt.UTC,
            executors={"default": ThreadPoolExecutor(len(self.runner.jobs) * 2 + 1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        if self.periodic:
            for job in self.runner.jobs.values():
                scheduler.add_job(
                    self.runner.run_pending,
                    IntervalTrigger(seconds=job.interval, start_date=EPOCH, timezone=dt.UTC),
                    args=[job.name, True],
                    id=job.name,
                    name=job.description,
                )
        scheduler.add_job(
            self.poll,
            IntervalTrigger(seconds=self.settings.job_poll_seconds, timezone=dt.UTC),
            id=POLL,
            next_run_time=dt.datetime.now(dt.UTC),
        )
        self.runner.stopping.clear()
        scheduler.start()
        self._scheduler = scheduler

    def poll(self) -> None:
        """Wake each job that has work no live holder is doing."""
        try:
            due = [name for name in self.runner.jobs if self.runner.due(name, self.periodic)]
        except Exception as exc:
            if not unavailable(exc):
                raise
            if not self._unavailable:
                log.warning("the database is unavailable (%s); the jobs wait for it", exc)
            self._unavailable = True
            return
        if self._unavailable:
            log.info("the database answers again")
            self._unavailable = False
        for name in due:
            self.wake(name)

    def wake(self, name: str) -> None:
        """Run the job now in this process, if it runs a scheduler (otherwise another
        scheduler's poll finds the run within LEADFLOW_JOB_POLL_SECONDS)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        # A one-off job of its own each time (no fixed id to replace: a wake replacing another
        # as it runs races APScheduler's removal of the finished one). Wakes that meet a run
        # in progress return at once (JobRunner.run_pending); the poll finds what they missed.
        scheduler.add_job(
            self.runner.run_pending, args=[name, self.periodic], misfire_grace_time=None
        )

    def submit(self, evaluation_run_id: int) -> None:
        """An evaluation was queued (its job run is in the database): run it promptly."""
        self.wake(job_runs.EVALUATION)

    def stop(self) -> None:
        """Stop the clocks; a run in progress stops at its next checkpoint and releases its
        lease, so that another scheduler carries it on."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        self.runner.stopping.set()
        # Shutting down while the scheduler's thread finishes a one-off wake makes APScheduler
        # fail to remove it (JobLookupError in its thread). Pausing, then removing the jobs
        # (which waits for a pass over due jobs already begun), leaves it nothing to remove.
        scheduler.pause()
        scheduler.remove_all_jobs()
        scheduler.shutdown(wait=True)
        self._scheduler = None
