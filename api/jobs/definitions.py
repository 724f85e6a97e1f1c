"""The jobs, defined in code: what each does and how often. A scheduler runs them on their
intervals and when asked; every run goes through the job's lease (api.job_runner)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

import bpf
from api.jobs import idempotency_expiry, stage_timeouts, webhook_sender
from api.services.scoring import evaluation as scoring_service
from api.settings import Settings
from api.storage import job_runs
from api.storage.db import Database
from api.storage.job_runs import JobRun
from api.storage.leases import Lease, LeaseLost, Stopping
from scoring.tables import EvaluationRun, RunStatus


@dataclass
class JobContext:
    """What a run works with. Its writes go through `write`, which checks the lease in the
    same transaction, and record progress with `advance`."""

    db: Database
    catalog: bpf.Catalog
    settings: Settings
    run: JobRun
    lease: Lease
    stopping: threading.Event
    progress: Callable[[JobRun], None] | None = None
    _last: JobRun | None = field(default=None, repr=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        self.check()
        with self.db.write() as session:
            self.lease.fence(session)
            yield session

    def check(self) -> None:
        """Stop here if the service is shutting down or the lease was lost; the run is
        resumed from its last checkpoint."""
        if self.lease.lost.is_set():
            raise LeaseLost(f"the lease on job '{self.run.job}' was taken over")
        if self.stopping.is_set():
            raise Stopping("the scheduler is stopping")

    def advance(
        self,
        session: Session,
        *,
        processed: int | None = None,
        add: int = 0,
        total: int | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        """Record progress in the caller's transaction: `processed` as a new count, or `add`
        to it; the checkpoint a resumed run starts from."""
        run = session.get(JobRun, self.run.id)
        assert run is not None
        run.processed = processed if processed is not None else run.processed + add
        if total is not None:
            run.total = total
        if checkpoint is not None:
            run.checkpoint = checkpoint
        session.flush()
        self.run.processed, self.run.total = run.processed, run.total
        self.run.checkpoint = run.checkpoint

    def notify(self) -> None:
        """Tell the foreground caller (a progress bar) where the run is; stop if asked to."""
        if self.progress is not None:
            self.progress(self.run)
        self.check()


@dataclass(frozen=True)
class Job:
    name: str
    interval: float  # seconds
    description: str
    run: Callable[[JobContext], None]


def _evaluate(ctx: JobContext) -> None:
    evaluation_id = ctx.run.evaluation_run_id
    if evaluation_id is None:
        raise RuntimeError(f"job run {ctx.run.id} names no evaluation")
    with ctx.db.read() as session:
        evaluation = session.get(EvaluationRun, evaluation_id)
    if evaluation is None:
        raise RuntimeError(f"evaluation {evaluation_id} was deleted")
    if evaluation.status in (RunStatus.DONE.value, RunStatus.FAILED.value):
        # Carried out directly (scoring_service.evaluate without a scheduler).
        with ctx.write() as session:
            ctx.advance(session, processed=evaluation.done, total=evaluation.total)
        if evaluation.status == RunStatus.FAILED.value:
            raise RuntimeError(evaluation.error or "the evaluation failed")
        return

    def within(session: Session, run: EvaluationRun) -> None:
        ctx.lease.fence(session)
        ctx.advance(session, processed=run.done, total=run.total)

    scoring_service.evaluate(
        ctx.db,
        ctx.catalog,
        evaluation_id,
        chunk=ctx.settings.evaluation_chunk,
        within=within,
        progress=lambda _: ctx.notify(),
    )


def _redeliver(ctx: JobContext) -> None:
    """Round after round until none is due. Each delivery is claimed, so this and the senders
    of API processes never send the same attempt twice."""
    sender = webhook_sender.Sender(ctx.db, ctx.settings)
    with sender.connections() as (client, pool):
        while True:
            ctx.check()
            sent = sender.deliver(client, pool)
            if sent:
                with ctx.write() as session:
                    ctx.advance(session, add=sent)
                ctx.notify()
            if sent < ctx.settings.webhook_concurrency:
                break
    sender.purge()


def defined(settings: Settings) -> list[Job]:
    """Every job, in the order `GET /api/jobs` lists them."""
    return [
        Job(
            job_runs.EVALUATION,
            settings.evaluation_interval,
            "re-score every lead and account for the live models and fire the outcomes",
            _evaluate,
        ),
        Job(
            "stage_timeouts",
            settings.stage_timeout_interval,
            "fire the time-based automations of stages.yaml (after: in a stage)",
            stage_timeouts.run,
        ),
        Job(
            "idempotency_expiry",
            settings.idempotency_expiry_interval,
            "delete Idempotency-Key answers older than LEADFLOW_IDEMPOTENCY_KEEP",
            idempotency_expiry.run,
        ),
        Job(
            "webhook_redelivery",
            settings.webhook_redelivery_interval,
            "deliver the webhook messages due (retries past their backoff, and any no sender "
            "took) and forget those past LEADFLOW_WEBHOOK_RETENTION_DAYS",
            _redeliver,
        ),
    ]
