"""`leadflow jobs`: the scheduler's jobs, listed and run now."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

import bpf
from api.cli.errors import fail, reported
from api.settings import Settings

app = typer.Typer(help="The scheduler's jobs: `leadflow jobs` lists them.")


@app.callback(invoke_without_command=True)
def jobs(ctx: typer.Context) -> None:
    """Each job: interval, last run (start, duration, records processed, error), next run."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from api.jobs.definitions import defined
    from api.jobs.runner import status
    from api.storage.db import Database

    settings = Settings()
    db = Database(settings.database_url, wait_seconds=settings.database_wait_seconds)
    try:
        found = status(db, defined(settings))
    finally:
        db.dispose()
    table = Table("job", "every", "last run", "took", "processed", "result", "next run", "now")
    for item in found:
        last = item.last
        took = last.seconds if last is not None else None
        table.add_row(
            item.job.name,
            every(item.job.interval),
            f"{last.started_at:%Y-%m-%d %H:%M:%S}" if last and last.started_at else "never",
            f"{took:.1f} s" if took is not None else "",
            f"{last.processed:,}" if last is not None else "",
            (last.error or last.status) if last is not None else "",
            f"{item.next_run_at:%Y-%m-%d %H:%M:%S}",
            (f"running on {item.holder}" if item.running else "")
            + (f" {item.queued} queued" if item.queued else ""),
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped or logged: one line per job
    console.print(table)


def every(seconds: float) -> str:
    """An interval as the largest unit it is a whole number of: 90s, 5m, 1h, 1d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@app.command("run")
def run_job(
    name: Annotated[str, typer.Argument(help="The job, as `leadflow jobs` names it.")],
) -> None:
    """Run a job now, in the foreground, with a progress bar. It takes the job's lease first,
    waiting while a scheduler runs it."""
    from api.app import NotMigrated, open_service
    from api.jobs.runner import JobRunner
    from api.storage import job_runs

    settings = Settings()
    with reported(bpf.StagesFileError, bpf.StagesInUse, NotMigrated):
        service = open_service(settings)
    try:
        runner = JobRunner(service.db, lambda: service.catalog, settings)
        if name not in runner.jobs:
            hint = bpf.validation.suggest(name, runner.jobs)
            raise fail(
                [f"there is no job '{name}'; " + (hint or f"jobs: {', '.join(runner.jobs)}")]
            )
        with service.db.write() as session:
            queued = job_runs.queue(session, name, "leadflow jobs run")
        assert queued.id is not None
        waiting_for(runner, name)
        with job_progress(name) as show:
            ended = runner.run_now(name, queued.id, progress=show)
    finally:
        service.db.dispose()
    line = f"job {name}: run {ended.id} {ended.status}"
    if ended.seconds is not None:
        line += f" in {ended.seconds:.1f} s, {ended.processed:,} processed"
    if ended.status != "done":
        raise fail([line + (f": {ended.error}" if ended.error else "")])
    typer.echo(line)


@contextmanager
def job_progress(label: str) -> Iterator[Callable[[Any], None]]:
    """A progress bar of a run's records on a terminal; nothing when output is redirected."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda run: None
        return
    columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def show(run: Any) -> None:
            bar.update(task, total=run.total, completed=run.processed)

        yield show


def waiting_for(runner: Any, name: str) -> None:
    """Say so when another process holds the lease of job `name`: this one waits for it."""
    from api.storage.leases import JobLease
    from leads.types import utcnow

    with runner.db.read() as session:
        lease = session.get(JobLease, name)
    if lease is not None and lease.holder is not None and lease.expires_at > utcnow():
        typer.echo(f"waiting for job {name}: {lease.holder} runs it now", err=True)
