"""`leadflow import`: a CSV file into the database, streamed, with every bad row reported."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import bpf
from api.cli.errors import fail, reported
from api.cli.stages import load_catalog
from api.settings import Settings

if TYPE_CHECKING:
    from api.services.imports import Options, Report
    from api.storage.db import Database
    from leads.csvimport import ColumnMapping, Kind, RowError

ImportKind = Annotated[
    str, typer.Argument(help="What the file holds: contacts, accounts, leads or interactions.")
]


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
    from api.services import imports

    chosen = _kind(kind)
    columns = _import_mapping(mapping) if mapping is not None else None
    settings = Settings()
    catalog = load_catalog(settings.stages_path())
    stdin = str(file) == "-"
    name = "<stdin>" if stdin else str(file)
    size = None if stdin else _size(file)
    options = imports.Options(
        dry_run=dry_run, skip_bad_rows=skip_bad_rows, source=f"import of {file.name}"
    )
    report = _run(settings, catalog, chosen, None if stdin else file, name, columns, options, size)
    _print_report(name, report)
    if report.bad_rows and not skip_bad_rows:
        raise typer.Exit(code=1)


def _kind(kind: str) -> Kind:
    from leads import csvimport

    try:
        return csvimport.Kind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in csvimport.Kind)
        raise fail([f"cannot import '{kind}'; one of: {kinds}"]) from None


def _size(file: Path) -> int:
    """The file's size in bytes, once it is known to be readable."""
    try:
        size = file.stat().st_size
        file.open("rb").close()
    except OSError as exc:
        raise fail([f"{file}: cannot read the file: {exc.strerror}"]) from None
    return size


def _run(
    settings: Settings,
    catalog: bpf.Catalog,
    kind: Kind,
    file: Path | None,
    name: str,
    columns: ColumnMapping | None,
    options: Options,
    size: int | None,
) -> Report:
    """Import `file` (None: standard input) into an up-to-date database; what makes the
    import fail is reported as `name` and its reason."""
    from api.services import imports
    from api.storage.db import Database
    from leads import csvimport
    from leads.errors import DomainError

    db = Database(settings.database_url)
    try:
        with reported(DomainError, prefix=f"{name}: "):
            _require_schema(db)
            return _stream(db, settings, catalog, kind, file, columns, options, size)
    except csvimport.CsvError as exc:
        raise fail([f"{name}:{p.line}: {_where(p)}{p.reason}" for p in exc.problems]) from None
    except imports.Refused as exc:
        _print_report(name, exc.report)
        raise typer.Exit(code=1) from None
    except OSError as exc:
        raise fail([f"{name}: cannot read the file: {exc.strerror}"]) from None
    finally:
        db.dispose()


def _require_schema(db: Database) -> None:
    """Migrate an embedded database; refuse a shared one that is behind."""
    from api.storage import migrate

    if db.is_sqlite:
        migrate.upgrade(db.write_engine)
    elif migrate.pending(db.engine):
        raise fail(["the database schema is not up to date: run `leadflow db upgrade`"])


def _stream(
    db: Database,
    settings: Settings,
    catalog: bpf.Catalog,
    kind: Kind,
    file: Path | None,
    columns: ColumnMapping | None,
    options: Options,
    size: int | None,
) -> Report:
    from api.services import imports
    from bpf.actors import Actor

    actor = Actor(bpf.ActorKind.USER, "leadflow import")
    kinds = settings.known_interaction_kinds()
    with _import_progress(size) as progress:
        if file is None:
            with imports.text_lines(sys.stdin.buffer) as lines:
                return imports.import_csv(
                    db,
                    catalog,
                    kind,
                    lines,
                    mapping=columns,
                    options=options,
                    actor=actor,
                    interaction_kinds=kinds,
                    progress=lambda report: progress(report, None),
                )
        return imports.import_path(
            db,
            catalog,
            kind,
            file,
            mapping=columns,
            options=options,
            actor=actor,
            interaction_kinds=kinds,
            progress=progress,
        )


def _import_mapping(path: Path) -> ColumnMapping:
    from leads import csvimport

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail([f"{path}: cannot read the mapping: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise fail([f"{path}: the mapping is not UTF-8 text"]) from None
    try:
        return csvimport.parse_mapping(text, str(path))
    except csvimport.MappingError as exc:
        raise fail(exc.problems) from None


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
