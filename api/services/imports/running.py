"""Running an import: the batches of a file through its kind's writer, in one
transaction or one per batch."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

import bpf
from api.services.imports.accounts import AccountWriter
from api.services.imports.contacts import ContactWriter
from api.services.imports.interactions import InteractionWriter
from api.services.imports.leads import LeadWriter
from api.services.imports.options import DEFAULT_OPTIONS, Options
from api.services.imports.reading import text_lines, typed_attributes
from api.services.imports.report import Progress, Refused, Report
from api.services.imports.writer import Context, Writer
from api.storage import search
from api.storage.db import Database
from bpf.actors import Actor
from leads import csvimport
from leads.csvimport import ColumnMapping, Kind
from leads.errors import Conflict


def import_csv(
    db: Database,
    catalog: bpf.Catalog,
    kind: Kind,
    lines: Iterable[str],
    *,
    mapping: ColumnMapping | None = None,
    options: Options = DEFAULT_OPTIONS,
    actor: Actor,
    interaction_kinds: Collection[str] = (),
    progress: Progress | None = None,
) -> Report:
    """Import a CSV stream (text lines with their line endings) and return the report.

    Raise csvimport.CsvError when the header or the mapping cannot be used (nothing is read
    further), and Refused when, all or nothing, any row is bad (nothing is written).
    """
    started = time.perf_counter()
    reader = csvimport.Reader(lines)
    typed = typed_attributes(catalog) if kind is Kind.LEADS else None
    plan = csvimport.plan(kind, reader.header, mapping, typed)
    report = Report(kind, options.dry_run, options.skip_bad_rows)
    context = Context(plan, catalog, options, actor, frozenset(interaction_kinds))
    writer = WRITERS[kind](context)
    batches = csvimport.batches(plan, reader, options.batch_rows)

    def tick() -> None:
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress(report)

    try:
        if options.skip_bad_rows and not options.dry_run:
            with db.read() as session:
                report.warnings = writer.warnings(session)
            for batch in batches:
                with db.write() as session:
                    _apply(writer, session, batch, report, write=True)
                tick()
            report.written = True
        else:
            _one_transaction(db, writer, batches, report, tick)
    except IntegrityError:
        raise Conflict(
            "a concurrent change stored a record this import was writing (an interaction's "
            "external_id, most likely); nothing more was written. Run the import again: rows "
            "already stored are matched, not stored twice",
            slug="import-conflict",
            title="Import conflict",
        ) from None
    report.seconds = time.perf_counter() - started
    if report.bad_rows and not options.skip_bad_rows and not options.dry_run:
        # Counted up to the first bad row only, and none of it was written.
        report.created = report.updated = report.unchanged = 0
        raise Refused(report)
    return report


def import_path(
    db: Database,
    catalog: bpf.Catalog,
    kind: Kind,
    path: Path,
    *,
    mapping: ColumnMapping | None = None,
    options: Options = DEFAULT_OPTIONS,
    actor: Actor,
    interaction_kinds: Collection[str] = (),
    progress: Callable[[Report, int], None] | None = None,
) -> Report:
    """Import a CSV file (UTF-8, with or without a byte order mark), streaming it.

    `progress` gets the report so far and how many bytes of the file have been read.
    """
    with path.open("rb") as raw, text_lines(raw) as lines:

        def tick(report: Report) -> None:
            if progress is not None:
                progress(report, raw.tell())

        return import_csv(
            db,
            catalog,
            kind,
            lines,
            mapping=mapping,
            options=options,
            actor=actor,
            interaction_kinds=interaction_kinds,
            progress=tick,
        )


def _one_transaction(
    db: Database,
    writer: Writer,
    batches: Iterator[csvimport.Batch],
    report: Report,
    tick: Callable[[], None],
) -> None:
    """Write every batch in one transaction; commit it unless a row is bad or it is a dry run.
    After the first bad row the transaction is rolled back and the rest is only checked."""
    with db.read() as session:
        report.warnings = writer.warnings(session)
    session = Session(db.write_engine, expire_on_commit=False)
    writing = True
    try:
        for batch in batches:
            if writing:
                _apply(writer, session, batch, report, write=True)
                if report.bad_rows and not report.dry_run:
                    session.rollback()
                    session.close()
                    session = Session(db.engine)
                    writing = False
            else:
                _apply(writer, session, batch, report, write=False)
                session.rollback()
            tick()
        if writing and not report.dry_run:
            session.commit()
            report.written = True
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _apply(
    writer: Writer, session: Session, batch: csvimport.Batch, report: Report, *, write: bool
) -> None:
    report.rows += batch.records
    errors = list(batch.errors)
    last = writer.last_id(session) if write else 0
    table = writer.table.name if write and writer.table is not None else ""
    with search.documents_per_batch(session.connection(), table, last):
        errors += writer.apply(session, batch.rows, report, write=write)
    if write:
        writer.rescore(session, last)
    report.add_errors(errors)


WRITERS: dict[Kind, type[Writer]] = {
    Kind.CONTACTS: ContactWriter,
    Kind.ACCOUNTS: AccountWriter,
    Kind.LEADS: LeadWriter,
    Kind.INTERACTIONS: InteractionWriter,
}
