"""A run cut off midway is resumed from its checkpoint by the next holder of the lease:
no chunk written twice, none skipped, the same result as a clean run."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, update
from sqlmodel import col, select

from api.app import Service
from api.jobs.runner import JobRunner
from api.settings import Settings
from api.storage import job_runs
from api.storage.job_runs import JobRun
from api.storage.leases import JobLease, Lease, LeaseLost
from leads.models import StageChange
from leads.types import utcnow
from scoring.tables import EvaluationRun
from tests.jobs.helpers import expected_scores, seed, stored_scores
from tests.patience import SETTLE_SECONDS

LEADS = 1000


class Crash(BaseException):
    """The process dies here: nothing after it runs, no handler sees it."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"evaluation_chunk": 100, "lease_seconds": 1.0, "heartbeat_seconds": 0.2}
    )


def runner(service: Service, settings: Settings) -> JobRunner:
    return JobRunner(service.db, lambda: service.catalog, settings)


def test_an_evaluation_cut_off_resumes_from_its_checkpoint(
    service: Service, settings: Settings
) -> None:
    seed(service.db, service.catalog, LEADS)
    first = runner(service, settings)
    with service.db.write() as session:
        queued = job_runs.queue(session, job_runs.EVALUATION, "test")
    chunks = []

    def die_after_four(run: JobRun) -> None:
        chunks.append(run.processed)
        if len(chunks) == 4:
            raise Crash

    with pytest.raises(Crash):
        first.run_pending(job_runs.EVALUATION, periodic=False, progress=die_after_four)
    # As a killed process leaves it: the lease still held until it expires.
    with service.db.write() as session:
        session.execute(
            update(JobLease).values(
                holder=first.holder, expires_at=utcnow() + dt.timedelta(seconds=1)
            )
        )
    with service.db.read() as session:
        evaluation = session.get(EvaluationRun, queued.evaluation_run_id)
        assert evaluation is not None
        assert (evaluation.status, evaluation.done, evaluation.total) == ("running", 400, LEADS)
        assert (evaluation.checkpoint_entity, evaluation.checkpoint_id) == ("lead", 400)
        as_of = evaluation.as_of

    second = runner(service, settings)
    assert second.run_pending(job_runs.EVALUATION, periodic=False) == 0  # the lease is alive
    deadline = time.monotonic() + SETTLE_SECONDS
    while not second.due(job_runs.EVALUATION, periodic=False):
        assert time.monotonic() < deadline, "the lease did not expire"
        time.sleep(0.1)
    assert second.run_pending(job_runs.EVALUATION, periodic=False) == 1

    with service.db.read() as session:
        evaluation = session.get(EvaluationRun, queued.evaluation_run_id)
        run = session.get(JobRun, queued.id)
        assert evaluation is not None and run is not None
        assert (evaluation.status, evaluation.done, evaluation.total) == ("done", LEADS, LEADS)
        assert evaluation.as_of == as_of  # the same evaluation time throughout
        assert evaluation.outcomes == LEADS  # every lead's first score fired once
        assert (run.status, run.attempts, run.processed, run.holder) == (
            "done",
            2,
            LEADS,
            second.holder,
        )
        # Each outcome moved each lead once, though four chunks were written before the cut.
        twice = session.exec(
            select(StageChange.lead_id, StageChange.trigger, func.count())
            .group_by(col(StageChange.lead_id), col(StageChange.trigger))
            .having(func.count() > 1)
        ).all()
        assert twice == []
        moved = session.exec(select(func.count(func.distinct(StageChange.lead_id)))).one()
        assert moved == LEADS
    assert stored_scores(service.db) == expected_scores(service.db, as_of)
    assert len(stored_scores(service.db)) == LEADS


def test_a_holder_that_lost_its_lease_writes_nothing_more(
    service: Service, settings: Settings
) -> None:
    db = service.db
    old = Lease.take(db, "evaluation", "a:1:old", seconds=0.2, heartbeat=0.1)
    assert old is not None
    assert Lease.take(db, "evaluation", "b:2:new", seconds=5, heartbeat=1) is None
    time.sleep(0.3)
    new = Lease.take(db, "evaluation", "b:2:new", seconds=5, heartbeat=1)
    assert new is not None
    with pytest.raises(LeaseLost), db.write() as session:
        session.add(JobRun(job="evaluation", requested_by="old holder"))
        session.flush()
        old.fence(session)
    with db.read() as session:
        assert session.exec(select(JobRun)).all() == []
    with db.write() as session:
        new.fence(session)  # still the holder
    new.release()
    again = Lease.take(db, "evaluation", "c:3:next", seconds=5, heartbeat=1)
    assert again is not None


def test_two_schedulers_make_each_interval_run_once(service: Service, settings: Settings) -> None:
    settings = settings.model_copy(update={"lease_seconds": 5.0, "heartbeat_seconds": 1.0})
    runners = [runner(service, settings) for _ in range(2)]
    barrier = threading.Barrier(len(runners))
    ended: list[int] = []

    def tick(each: JobRunner) -> None:
        barrier.wait()
        ended.append(each.run_pending("idempotency_expiry", periodic=True))

    for _ in range(3):
        threads = [threading.Thread(target=tick, args=(r,)) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(ended) == 1
    with service.db.read() as session:
        runs: list[Any] = session.exec(select(JobRun)).all()
    assert [(r.job, r.status, r.requested_by) for r in runs] == [
        ("idempotency_expiry", "done", "schedule")
    ]
    assert runs[0].slot == job_runs.slot_of(utcnow(), settings.idempotency_expiry_interval)
