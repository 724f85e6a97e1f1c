"""`leadflow evaluate`: every lead and account re-scored now, in the foreground."""

from __future__ import annotations

from typing import Annotated

import typer

import bpf
from api.cli.errors import fail, reported
from api.cli.jobs import job_progress, waiting_for
from api.settings import Settings


def evaluate(
    model: Annotated[
        int | None, typer.Option(help="Only this live model; default: every live model.")
    ] = None,
) -> None:
    """Re-score every lead and account for the live models, set-based, and fire the outcomes of
    those whose results changed; in the foreground, with a progress bar. It takes the
    evaluation job's lease, waiting while a scheduler runs another evaluation."""
    from sqlmodel import col, select

    from api.app import NotMigrated, open_service
    from api.jobs.runner import JobRunner
    from api.services.scoring import evaluation as scoring_service
    from api.storage.job_runs import EVALUATION, JobRun
    from scoring.tables import EvaluationRun

    settings = Settings()
    with reported(bpf.StagesFileError, bpf.StagesInUse, NotMigrated):
        service = open_service(settings)
    try:
        with service.db.read() as session:
            live = scoring_service.live_models(session.connection(), only=model)
        if model is not None and not live:
            raise fail([f"scoring model {model} is not live"])
        evaluation = scoring_service.new_run(service.db, model, requested_by="leadflow evaluate")
        with service.db.read() as session:
            job_run = session.exec(
                select(JobRun).where(col(JobRun.evaluation_run_id) == evaluation.id)
            ).one()
        assert job_run.id is not None
        runner = JobRunner(service.db, lambda: service.catalog, settings)
        waiting_for(runner, EVALUATION)
        with job_progress(f"evaluating {len(live)} model(s)") as show:
            ended = runner.run_now(EVALUATION, job_run.id, progress=show)
        with service.db.read() as session:
            done = session.get(EvaluationRun, evaluation.id)
        assert done is not None
    finally:
        service.db.dispose()
    if ended.status != "done":
        raise fail([f"evaluation {done.id} {ended.status}: {ended.error or ''}".rstrip(": ")])
    typer.echo(
        f"evaluation {done.id}: {done.done} records, {done.changed} scores changed, "
        f"outcomes fired for {done.outcomes} leads"
    )
