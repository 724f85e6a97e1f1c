"""The `leadflow` command line."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import bpf
from api.settings import Settings

if TYPE_CHECKING:
    from api.services.imports import Report
    from leads.csvimport import ColumnMapping, RowError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="leadflow lead management.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
webhooks_app = typer.Typer(no_args_is_help=True, help="Webhook deliveries.")
app.add_typer(webhooks_app, name="webhooks")

StagesFile = Annotated[
    Path | None,
    typer.Argument(help="A stages.yaml; default: LEADFLOW_STAGES_FILE, ./stages.yaml, bundled."),
]


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(code=1)


def _catalog(path: Path) -> bpf.Catalog:
    try:
        return bpf.Catalog.from_file(path)
    except bpf.StagesFileError as exc:
        raise _fail([str(p) for p in exc.problems]) from None


@app.command()
def validate(file: StagesFile = None) -> None:
    """Check a stages.yaml: every problem with its line, or a one-line summary."""
    path = file or Settings().stages_path()
    catalog = _catalog(path)
    processes = catalog.definition.processes
    stages = sum(len(p.stages) for p in processes)
    transitions = sum(len(p.transitions) for p in processes)
    automations = sum(len(p.automations) for p in processes)
    typer.echo(
        f"{path}: valid: {len(processes)} process{'es' if len(processes) != 1 else ''} "
        f"(default {catalog.default.name}), {stages} stages, {transitions} transitions, "
        f"{automations} automations"
    )


@app.command()
def diagram(
    file: StagesFile = None,
    process: Annotated[str | None, typer.Option(help="One process; default: all.")] = None,
    svg: Annotated[
        Path | None, typer.Option(help="Also write SVG here (needs graphviz installed).")
    ] = None,
) -> None:
    """Draw the processes as Mermaid state diagrams."""
    from bpf.diagram import mermaid, svg_available
    from bpf.diagram import svg as render_svg

    catalog = _catalog(file or Settings().stages_path())
    try:
        chosen = [catalog.get(process)] if process else list(catalog.processes.values())
    except bpf.UnknownName as exc:
        raise _fail([exc.message + (f"; {exc.hint}" if exc.hint else "")]) from None
    typer.echo("\n".join(mermaid(item) for item in chosen), nl=False)
    if svg is not None:
        if not svg_available():
            raise _fail(
                ["SVG needs graphviz: pip install 'leadflow[diagrams]' and the dot program"]
            )
        if len(chosen) > 1:
            raise _fail(["--svg draws one process: choose it with --process"])
        svg.write_bytes(render_svg(chosen[0]))
        typer.echo(f"wrote {svg}", err=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to LEADFLOW_DATABASE_URL."""
    from api.storage import migrate
    from api.storage.db import Database

    settings = Settings()
    db = Database(settings.database_url)
    try:
        migrate.upgrade(db.write_engine)
    finally:
        db.dispose()
    typer.echo(f"database {db.url.render_as_string(hide_password=True)} is up to date")


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, typer.Option(help="admin, marketer, teleprospector, salesperson, service")
    ],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
    seller: Annotated[
        str | None,
        typer.Option(
            help="The handle of the seller the key acts for ('mine' in the queues). A "
            "salesperson sees the leads of this seller and their team: without one, none."
        ),
    ] = None,
) -> None:
    """Create an API key and print it; it is shown this once and stored only as a hash."""
    from sqlmodel import col, select

    from api.services import keys
    from api.storage.db import Database
    from leads.sellers import Seller

    try:
        chosen = keys.Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in keys.Role)
        raise _fail([f"unknown role '{role}'; one of: {roles}"]) from None
    db = Database(Settings().database_url)
    try:
        with db.write() as session:
            if seller is not None:
                found = session.exec(select(Seller.id).where(col(Seller.handle) == seller))
                if found.first() is None:
                    raise _fail([f"there is no seller '{seller}'; create it at /api/sellers"])
            key, secret = keys.create_key(
                session, chosen, name or f"{chosen.value} key", seller=seller
            )
    finally:
        db.dispose()
    typer.echo(secret)
    typer.echo(
        f"key {key.id} ({key.name}, {key.role}): keep it now, it is not shown again", err=True
    )


@keys_app.command("list")
def keys_list() -> None:
    """Every API key: id, name, role, seller, prefix, when it was created and revoked. Secrets
    are not stored, so they are never shown."""
    from rich.console import Console
    from rich.table import Table

    from api.services import keys
    from api.storage.db import Database

    db = Database(Settings().database_url)
    try:
        with db.read() as session:
            found = keys.all_keys(session)
    finally:
        db.dispose()
    table = Table("id", "name", "role", "seller", "prefix", "created", "revoked")
    for key in found:
        table.add_row(
            str(key.id),
            key.name,
            key.role,
            key.seller or "",
            key.prefix,
            f"{key.created_at:%Y-%m-%d %H:%M:%S}",
            f"{key.revoked_at:%Y-%m-%d %H:%M:%S}" if key.revoked_at else "",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped or logged: one line per key
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix, as `keys list` shows.")],
    force: Annotated[
        bool, typer.Option("--force", help="Revoke even the last active admin key.")
    ] = False,
) -> None:
    """Revoke an API key: requests with it get 401. A running service that checked the key
    in the last LEADFLOW_KEY_CACHE_SECONDS accepts it until that time has passed."""
    from api.services import keys
    from api.storage.db import Database

    settings = Settings()
    db = Database(settings.database_url)
    try:
        with db.write() as session:
            revoked = keys.revoke_key(session, key, force=force)
    except keys.KeyRefused as exc:
        raise _fail([str(exc)]) from None
    finally:
        db.dispose()
    typer.echo(
        f"revoked key {revoked.id} ({revoked.name}, {revoked.role}); running services refuse "
        f"it within {settings.key_cache_seconds:g} s (LEADFLOW_KEY_CACHE_SECONDS)"
    )


ImportKind = Annotated[
    str, typer.Argument(help="What the file holds: contacts, accounts, leads or interactions.")
]


@app.command("import")
def import_(
    kind: ImportKind,
    file: Annotated[
        Path, typer.Argument(help="A UTF-8 CSV file with a header line; - reads standard input.")
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="A YAML or JSON file mapping CSV column -> field, attributes.<name>, or null "
            "to skip the column."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and match every row; write nothing.")
    ] = False,
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            "--skip-bad-rows",
            help="Write the good rows, committing batch by batch. Default: all or nothing.",
        ),
    ] = False,
) -> None:
    """Import a CSV file into LEADFLOW_DATABASE_URL, streaming it; every bad row is reported
    as file:line with its column and reason. Exit code 1 when rows are bad and nothing was
    (or, in a dry run, would be) written."""
    from api.http.problems import Problem
    from api.services import imports
    from api.services.moves import Actor
    from api.storage import migrate
    from api.storage.db import Database
    from leads import csvimport
    from leads.errors import DomainError

    try:
        chosen = csvimport.Kind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in csvimport.Kind)
        raise _fail([f"cannot import '{kind}'; one of: {kinds}"]) from None
    columns = _import_mapping(mapping) if mapping is not None else None
    settings = Settings()
    catalog = _catalog(settings.stages_path())
    stdin = str(file) == "-"
    name = "<stdin>" if stdin else str(file)
    size: int | None = None
    if not stdin:
        try:
            size = file.stat().st_size
            file.open("rb").close()
        except OSError as exc:
            raise _fail([f"{file}: cannot read the file: {exc.strerror}"]) from None
    db = Database(settings.database_url)
    try:
        if db.is_sqlite:
            migrate.upgrade(db.write_engine)
        elif migrate.pending(db.engine):
            raise _fail(["the database schema is not up to date: run `leadflow db upgrade`"])
        options = imports.Options(
            dry_run=dry_run, skip_bad_rows=skip_bad_rows, source=f"import of {file.name}"
        )
        actor = Actor(bpf.Actor.USER, "leadflow import")
        kinds = settings.known_interaction_kinds()
        with _import_progress(size) as progress:
            if stdin:
                with imports.text_lines(sys.stdin.buffer) as lines:
                    report = imports.import_csv(
                        db,
                        catalog,
                        chosen,
                        lines,
                        mapping=columns,
                        options=options,
                        actor=actor,
                        interaction_kinds=kinds,
                        progress=lambda report: progress(report, None),
                    )
            else:
                report = imports.import_path(
                    db,
                    catalog,
                    chosen,
                    file,
                    mapping=columns,
                    options=options,
                    actor=actor,
                    interaction_kinds=kinds,
                    progress=progress,
                )
    except csvimport.CsvError as exc:
        raise _fail([f"{name}:{p.line}: {_where(p)}{p.reason}" for p in exc.problems]) from None
    except imports.Refused as exc:
        _print_report(name, exc.report)
        raise typer.Exit(code=1) from None
    except (Problem, DomainError) as exc:
        raise _fail([f"{name}: {exc.detail}"]) from None
    except OSError as exc:
        raise _fail([f"{name}: cannot read the file: {exc.strerror}"]) from None
    finally:
        db.dispose()
    _print_report(name, report)
    if report.bad_rows and not skip_bad_rows:
        raise typer.Exit(code=1)


def _import_mapping(path: Path) -> ColumnMapping:
    from leads import csvimport

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail([f"{path}: cannot read the mapping: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise _fail([f"{path}: the mapping is not UTF-8 text"]) from None
    try:
        return csvimport.parse_mapping(text, str(path))
    except csvimport.MappingError as exc:
        raise _fail(exc.problems) from None


def _where(error: RowError) -> str:
    return f"column '{error.column}': " if error.column is not None else ""


@contextmanager
def _import_progress(total: int | None) -> Iterator[Callable[[Report, int | None], None]]:
    """A progress bar with rows per second on a terminal, advanced by the bytes of the file
    read so far (`total` bytes in all, when known); nothing when output is redirected."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda report, done: None
        return
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TextColumn("{task.fields[rate]:>9,.0f} rows/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=total or None, rows=0, rate=0.0)

        def advance(report: Report, done: int | None) -> None:
            bar.update(task, completed=done, rows=report.rows, rate=report.rows_per_second)

        yield advance


def _print_report(name: str, report: Report) -> None:
    for error in report.errors:
        typer.echo(f"{name}:{error.line}: {_where(error)}{error.reason}", err=True)
    if report.errors_total > len(report.errors):
        typer.echo(
            f"{name}: ... and {report.errors_total - len(report.errors):,} more errors", err=True
        )
    for warning in report.warnings:
        typer.echo(f"{name}: warning: {warning}", err=True)
    counts = (
        f"{report.rows:,} rows: {report.created:,} created, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.bad_rows:,} bad"
    )
    timing = f"{report.seconds:.1f} s, {report.rows_per_second:,.0f} rows/s"
    if report.dry_run:
        typer.echo(
            f"dry run of {report.kind.value} from {name}, nothing written: {counts}; {timing}"
        )
    elif report.written:
        skipped = " (skipped)" if report.bad_rows else ""
        typer.echo(f"imported {report.kind.value} from {name}: {counts}{skipped}; {timing}")
    else:
        typer.echo(
            f"nothing imported from {name}: {report.bad_rows:,} of {report.rows:,} rows are bad; "
            "fix them, or use --skip-bad-rows to import the good rows"
        )


@app.command()
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
    try:
        service = open_service(settings)
    except (bpf.StagesFileError, bpf.StagesInUse, NotMigrated) as exc:
        raise _fail([str(exc)]) from None
    try:
        with service.db.read() as session:
            live = scoring_service.live_models(session.connection(), only=model)
        if model is not None and not live:
            raise _fail([f"scoring model {model} is not live"])
        evaluation = scoring_service.new_run(service.db, model, requested_by="leadflow evaluate")
        with service.db.read() as session:
            job_run = session.exec(
                select(JobRun).where(col(JobRun.evaluation_run_id) == evaluation.id)
            ).one()
        assert job_run.id is not None
        runner = JobRunner(service.db, lambda: service.catalog, settings)
        _waiting_for(runner, EVALUATION)
        with _job_progress(f"evaluating {len(live)} model(s)") as show:
            ended = runner.run_now(EVALUATION, job_run.id, progress=show)
        with service.db.read() as session:
            done = session.get(EvaluationRun, evaluation.id)
        assert done is not None
    finally:
        service.db.dispose()
    if ended.status != "done":
        raise _fail([f"evaluation {done.id} {ended.status}: {ended.error or ''}".rstrip(": ")])
    typer.echo(
        f"evaluation {done.id}: {done.done} records, {done.changed} scores changed, "
        f"outcomes fired for {done.outcomes} leads"
    )


@contextmanager
def _job_progress(label: str) -> Iterator[Callable[[Any], None]]:
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


def _waiting_for(runner: Any, name: str) -> None:
    from api.storage.leases import JobLease
    from leads.types import utcnow

    with runner.db.read() as session:
        lease = session.get(JobLease, name)
    if lease is not None and lease.holder is not None and lease.expires_at > utcnow():
        typer.echo(f"waiting for job {name}: {lease.holder} runs it now", err=True)


jobs_app = typer.Typer(help="The scheduler's jobs: `leadflow jobs` lists them.")
app.add_typer(jobs_app, name="jobs")


@jobs_app.callback(invoke_without_command=True)
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
            _every(item.job.interval),
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


def _every(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="The job, as `leadflow jobs` names it.")],
) -> None:
    """Run a job now, in the foreground, with a progress bar. It takes the job's lease first,
    waiting while a scheduler runs it."""
    from api.app import NotMigrated, open_service
    from api.jobs.runner import JobRunner
    from api.storage import job_runs

    settings = Settings()
    try:
        service = open_service(settings)
    except (bpf.StagesFileError, bpf.StagesInUse, NotMigrated) as exc:
        raise _fail([str(exc)]) from None
    try:
        runner = JobRunner(service.db, lambda: service.catalog, settings)
        if name not in runner.jobs:
            hint = bpf.validation.suggest(name, runner.jobs)
            raise _fail(
                [f"there is no job '{name}'; " + (hint or f"jobs: {', '.join(runner.jobs)}")]
            )
        with service.db.write() as session:
            queued = job_runs.queue(session, name, "leadflow jobs run")
        assert queued.id is not None
        _waiting_for(runner, name)
        with _job_progress(name) as show:
            ended = runner.run_now(name, queued.id, progress=show)
    finally:
        service.db.dispose()
    line = f"job {name}: run {ended.id} {ended.status}"
    if ended.seconds is not None:
        line += f" in {ended.seconds:.1f} s, {ended.processed:,} processed"
    if ended.status != "done":
        raise _fail([line + (f": {ended.error}" if ended.error else "")])
    typer.echo(line)


@app.command()
def scheduler() -> None:
    """Run the jobs, on their intervals and when asked, until stopped (SIGTERM, Ctrl-C): the
    scheduler of a deployment whose API processes run with --no-scheduler. Several may run;
    each job runs in one of them at a time."""
    import logging
    import signal
    import threading

    from api.app import NotMigrated, open_service
    from api.jobs.runner import JobRunner
    from api.jobs.scheduler import Scheduler

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    try:
        service = open_service(settings)
    except (bpf.StagesFileError, bpf.StagesInUse, NotMigrated) as exc:
        raise _fail([str(exc)]) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runner = JobRunner(service.db, lambda: service.catalog, settings)
    jobs = Scheduler(runner, settings)
    jobs.start()
    periodic = ", ".join(f"{j.name} every {_every(j.interval)}" for j in runner.jobs.values())
    if not settings.periodic_jobs:
        periodic = "the runs asked for only"
    typer.echo(f"scheduler {runner.holder}: {periodic}", err=True)
    try:
        while not stop.wait(1):
            pass
    finally:
        jobs.stop()
        service.db.dispose()
    typer.echo(f"scheduler {runner.holder}: stopped", err=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: LEADFLOW_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: LEADFLOW_PORT or 8000")] = None,
    no_scheduler: Annotated[
        bool,
        typer.Option(
            "--no-scheduler",
            help="Run no jobs here: separate `leadflow scheduler` processes run them.",
        ),
    ] = False,
) -> None:
    """Run the API, and the jobs unless --no-scheduler. An embedded SQLite database is
    created and migrated as needed."""
    import gc
    from concurrent.futures import ThreadPoolExecutor

    import uvicorn
    from litestar.concurrency import set_asyncio_executor

    from api.app import NotMigrated, create_app, open_service

    settings = Settings()
    if no_scheduler:
        settings = settings.model_copy(update={"scheduler": False})
    try:
        service = open_service(settings)
    except bpf.StagesFileError as exc:
        raise _fail([str(p) for p in exc.problems]) from None
    except bpf.StagesInUse as exc:
        raise _fail([f"{settings.stages_path()}: {p}" for p in exc.problems]) from None
    except NotMigrated as exc:
        raise _fail([str(exc)]) from None
    typer.echo(f"processes from {service.catalog.source}; database {service.db.url}", err=True)
    if service.first_admin_key:
        typer.echo(
            "First start: an admin API key was created. It is shown once; keep it:\n"
            f"  {service.first_admin_key}",
        )
    set_asyncio_executor(
        ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="handler")
    )
    asgi_app = create_app(service)
    # What the service holds for its lifetime (the app, its routes and schemas) is never
    # garbage: frozen, the collector does not walk it again on every full collection. A batch
    # request allocates thousands of objects at once; collecting every 700 of them is waste.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        uvicorn.run(
            asgi_app,
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            # The app reads forwarded headers itself, from LEADFLOW_TRUSTED_PROXIES only.
            proxy_headers=False,
        )
    finally:
        service.db.dispose()


@webhooks_app.command("send")
def webhooks_send() -> None:
    """Deliver webhooks until stopped (Ctrl-C), beside API processes that run with
    LEADFLOW_WEBHOOK_SENDER=false. Several senders may share a PostgreSQL database."""
    import signal
    import threading

    from api.jobs.webhook_sender import Sender
    from api.storage import migrate
    from api.storage.db import Database

    settings = Settings()
    db = Database(settings.database_url)
    try:
        if migrate.pending(db.engine):
            raise _fail(["the database schema is not up to date: run `leadflow db upgrade`"])
        sender = Sender(db, settings)
        stopped = threading.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stopped.set())
        sender.start()
        typer.echo(f"delivering webhooks from {db.url.render_as_string(hide_password=True)}")
        stopped.wait()
        sender.stop()
    finally:
        db.dispose()


def main() -> None:
    app()
