"""Importing CSV files of contacts, accounts, leads or interactions.

The file is read in batches (`leads.csvimport`). Each batch is checked against the database
(references, erased persons, known kinds), matched against stored records with one query per
batch (the matching strategies for contacts and leads, names for accounts, external ids for
interactions), merged with earlier rows of the file that match the same record, and written with
SQLAlchemy Core statements: one executemany insert and one executemany update per batch.

All or nothing (the default) is one write transaction. At the first bad row it is rolled back,
so the write lock is let go at once, and the rest of the file is only checked, so the report
still names every bad row. Skipping bad rows commits batch by batch, letting other writers in
between; importing a file again is safe, since every row is matched first. A dry run does
everything in one transaction and rolls it back, so its counts are exact, duplicates within the
file included.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

import bpf
from api.http.problems import Problem
from api.services import activity_rows, assignment, audit, matching, privacy
from api.services import interactions as interaction_service
from api.services import outbox as events
from api.services.leads import announce_created, announce_updated
from api.services.moves import Actor, announce, history_rows
from api.services.outbox import EventType
from api.services.scoring import evaluation
from api.storage.bulk import in_values, insert_rows
from api.storage.db import Database
from bpf.fields import FieldType as StepType
from bpf.validation import suggest
from leads import csvimport, models
from leads.audit import Entity as Audited
from leads.csvimport import ColumnMapping, FieldSpec, FieldType, Kind, Row, RowError
from leads.matching import Entity, comparable
from leads.models import (
    Account,
    ConsentChange,
    ConsentLevel,
    Contact,
    ErasedPerson,
    Interaction,
    Lead,
    LeadStatus,
    StageChange,
)
from leads.types import epoch, utcnow

BATCH_ROWS = 5000
ERRORS_SHOWN = 1000
ERASED = "belongs to an erased person"

CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]
ACCOUNTS: Table = Account.__table__  # type: ignore[attr-defined]
LEADS: Table = Lead.__table__  # type: ignore[attr-defined]
INTERACTIONS: Table = Interaction.__table__  # type: ignore[attr-defined]
CONSENT_CHANGES: Table = ConsentChange.__table__  # type: ignore[attr-defined]
STAGE_CHANGES: Table = StageChange.__table__  # type: ignore[attr-defined]
ERASED_PERSONS: Table = ErasedPerson.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    skip_bad_rows: bool = False
    batch_rows: int = BATCH_ROWS
    # Recorded as the source of consent given in the file, unless a consent_source column says.
    source: str = "import"


@dataclass
class Report:
    """What an import did (or, in a dry run or when refused, would have done)."""

    kind: Kind
    dry_run: bool
    skip_bad_rows: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    written: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add_errors(self, errors: Sequence[RowError]) -> None:
        if not errors:
            return
        self.bad_rows += len({e.line for e in errors})
        self.errors_total += len(errors)
        room = ERRORS_SHOWN - len(self.errors)
        if room > 0:
            self.errors += sorted(errors, key=lambda e: e.line)[:room]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "dry_run": self.dry_run,
            "skip_bad_rows": self.skip_bad_rows,
            "written": self.written,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "bad_rows": self.bad_rows,
            "errors": [e.as_dict() for e in self.errors],
            "errors_total": self.errors_total,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[Report], None]


class Refused(Exception):
    """All or nothing, and some rows are bad: nothing was written. The report names them."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"{report.bad_rows} bad rows")
        self.report = report


# -- entry points -------------------------------------------------------------------------------


def typed_attributes(catalog: bpf.Catalog) -> dict[str, FieldSpec]:
    """The custom step fields of stages.yaml, so a lead's attribute columns get their types."""
    types = {
        StepType.BOOLEAN: FieldType.BOOLEAN,
        StepType.TEXT: FieldType.TEXT,
        StepType.NUMBER: FieldType.NUMBER,
        StepType.DATE: FieldType.DATE,
        StepType.CHOICE: FieldType.CHOICE,
    }
    return {
        name: FieldSpec(name, types[step.type], choices=tuple(step.choices or ()))
        for name, step in catalog.fields.items()
        if step.type in types and name not in Lead.model_fields
    }


def import_csv(
    db: Database,
    catalog: bpf.Catalog,
    kind: Kind,
    lines: Iterable[str],
    *,
    mapping: ColumnMapping | None = None,
    options: Options = Options(),
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
    context = _Context(plan, catalog, options, actor, frozenset(interaction_kinds))
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
        raise Problem(
            409,
            "import-conflict",
            "Import conflict",
            "a concurrent change stored a record this import was writing (an interaction's "
            "external_id, most likely); nothing more was written. Run the import again: rows "
            "already stored are matched, not stored twice",
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
    options: Options = Options(),
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


@contextmanager
def text_lines(raw: IO[bytes]) -> Iterator[io.TextIOWrapper]:
    """UTF-8 text lines of a binary stream, line endings kept. Bytes that are not UTF-8 become
    U+FFFD, which the import reports as a row error instead of stopping at them."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield text
    finally:
        text.detach()


def _one_transaction(
    db: Database,
    writer: _Writer,
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
    writer: _Writer, session: Session, batch: csvimport.Batch, report: Report, *, write: bool
) -> None:
    report.rows += batch.records
    errors = list(batch.errors)
    last = writer.last_id(session) if write else 0
    errors += writer.apply(session, batch.rows, report, write=write)
    if write:
        writer.rescore(session, last)
    report.add_errors(errors)


# -- what every writer shares ---------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    plan: csvimport.Plan
    catalog: bpf.Catalog
    options: Options
    actor: Actor
    interaction_kinds: frozenset[str]

    def column(self, target: str) -> str | None:
        return self.plan.column_of(target)


class _Writer:
    # The table whose new rows scoring must see; their ids follow the largest before a batch.
    table: Table | None = None

    def __init__(self, context: _Context) -> None:
        self.context = context
        self.plan = context.plan
        self.changed: set[int] = set()  # ids of stored records a batch updated

    def warnings(self, session: Session) -> list[str]:
        return []

    def last_id(self, session: Session) -> int:
        if self.table is None:
            return 0
        found = session.connection().execute(select(func.max(self.table.c.id))).scalar()
        return int(found or 0)

    def new_ids(self, session: Session, last: int) -> list[int]:
        assert self.table is not None
        query = select(self.table.c.id).where(self.table.c.id > last)
        return list(session.connection().execute(query).scalars())

    def rescore(self, session: Session, last: int) -> None:
        """Score again what the batch wrote, as the API does after each change."""
        self.changed.clear()

    def apply(
        self, session: Session, rows: list[Row], report: Report, *, write: bool
    ) -> list[RowError]:
        """Check, match and (when `write`) store the rows; return the errors of bad rows and
        count the good ones in the report."""
        raise NotImplementedError

    def error(self, row: Row, target: str, reason: str) -> RowError:
        return RowError(row.line, self.context.column(target), reason)


def _locking(session: Session, write: bool) -> bool:
    """Whether reads for a change should lock rows: PostgreSQL takes row locks; a SQLite
    write transaction holds the whole database already."""
    return write and session.get_bind().dialect.name != "sqlite"


def _existing_ids(session: Session, table: Table, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    connection = session.connection()
    query = select(table.c.id).where(in_values(table.c.id, ids, connection.dialect.name))
    return set(connection.execute(query).scalars())


class _Erasures:
    """Which emails belong to erased persons, looked up by keyed hash, a batch at a time."""

    def __init__(self, session: Session, emails: Iterable[str]) -> None:
        self.digests: dict[str, str] = {}
        self.erased: set[str] = set()
        connection = session.connection()
        if not connection.execute(select(exists().select_from(ERASED_PERSONS))).scalar():
            return
        self.digests = {email: privacy.digest(session, email) for email in set(emails)}
        digests = set(self.digests.values())
        column = ERASED_PERSONS.c.digest
        query = select(column).where(in_values(column, digests, connection.dialect.name))
        found = set(connection.execute(query).scalars())
        self.erased = {email for email, digest in self.digests.items() if digest in found}

    def __contains__(self, email: object) -> bool:
        return email in self.erased

    def forget(self, session: Session, emails: Iterable[str]) -> None:
        """They came back with their consent: they are no longer on the list."""
        digests = {self.digests[e] for e in emails if e in self.erased}
        if digests:
            connection = session.connection()
            column = ERASED_PERSONS.c.digest
            connection.execute(
                delete(ERASED_PERSONS).where(in_values(column, digests, connection.dialect.name))
            )


def _matches(
    connection: Connection,
    table: Table,
    column: str,
    values: Collection[Any],
    key_columns: Sequence[str],
    key_of: Callable[[Mapping[str, Any]], Any],
    wanted: Collection[Any],
    *,
    lock: bool,
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[Any, dict[str, Any]]:
    """The stored row each wanted key matches (the most recently updated among equals), read
    whole; `column` IN `values` narrows the search, `key_of` makes a row's key."""
    if not values:
        return {}
    dialect = connection.dialect.name
    candidates = (
        select(table.c.id, *(table.c[name] for name in key_columns))
        .where(in_values(table.c[column], values, dialect), *where)
        .order_by(table.c.updated_at.desc(), table.c.id.desc())
    )
    chosen: dict[int, Any] = {}
    taken: set[Any] = set()
    for candidate in connection.execute(candidates).mappings():
        key = key_of(candidate)
        if key in wanted and key not in taken:
            taken.add(key)
            chosen[candidate["id"]] = key
    if not chosen:
        return {}
    query = select(table).where(in_values(table.c.id, chosen, dialect))
    if lock:
        query = query.with_for_update()
    found = {}
    for record in connection.execute(query).mappings():
        key = chosen[record["id"]]
        if key_of(record) == key:  # unless a concurrent change moved it since
            found[key] = dict(record)
    return found


def _insert_returning_ids(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """INSERT the rows and return their new ids, in order."""
    if not rows:
        return []
    result = connection.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return list(result.scalars())


def _touch(state: dict[str, Any], now: dt.datetime) -> None:
    """A record changed: a stored one goes up one version per import, whatever number of rows
    change it; one this import creates is still at version 1 when it is inserted."""
    if "id" in state and not state.get("_touched"):
        state["version"] += 1
        state["_touched"] = True
    state["updated_at"] = now


def _differs(state: Mapping[str, Any], stored: Mapping[str, Any], columns: Sequence[str]) -> bool:
    """Whether a stored record's rows changed it in the end (rows of a file may change a value
    and change it back), or left a consent statement to record."""
    return "_consents" in state or any(
        state[c] != stored[c] for c in columns if c not in ("version", "updated_at")
    )


def _bulk_update(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Update rows by id; each dict holds the same columns, with the id under `_id`."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != "_id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({c: bindparam(c) for c in columns})
    )
    connection.execute(statement, rows)


# -- contacts and accounts --------------------------------------------------------------------

CONTACT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "job_title",
    "company",
    "phone",
    "country",
    "industry",
    "account_id",
)
ACCOUNT_COLUMNS = ("name", "industry", "employees", "revenue", "country")


class _RecordWriter(_Writer):
    """Contacts and accounts: matched on key fields, updated in place, or inserted."""

    table: Table
    audited: Audited
    fields: tuple[str, ...]  # the columns a row may set
    defaults: Mapping[str, Any] = {}
    key_fields: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns an insert or an update writes."""
        return (*self.fields, *self.defaults, "attributes", "version", "created_at", "updated_at")

    def key(self, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        # Row values are trimmed and emails lower-cased already, as `comparable` makes them.
        if len(self.key_fields) == 1:
            value = values.get(self.key_fields[0])
            return None if value is None else (value,)
        key = tuple([values.get(name) for name in self.key_fields])
        return None if None in key else key

    def checks(
        self, session: Session, rows: list[Row], write: bool
    ) -> tuple[list[RowError], set[int]]:
        """Errors from looking the rows up, and the lines they make bad."""
        return [], set()

    def apply(
        self, session: Session, rows: list[Row], report: Report, *, write: bool
    ) -> list[RowError]:
        errors, bad = self.checks(session, rows, write)
        good = [r for r in rows if r.line not in bad] if bad else rows
        now = utcnow()
        blank: dict[str, Any] = dict.fromkeys(self.fields)
        blank.update(self.defaults, version=1, created_at=now, updated_at=now)
        keyed: dict[tuple[Any, ...], Row] = {}  # each key's first row
        later: dict[tuple[Any, ...], list[Row]] = {}  # and the rows after it, if any
        inserts: list[dict[str, Any]] = []
        key = self.key
        new = self.new
        for row in good:
            found = key(row.values)
            if found is None:
                inserts.append(new(row.values, blank, now))
            elif found in keyed:
                later.setdefault(found, []).append(row)
            else:
                keyed[found] = row
        stored = self.stored(session.connection(), keyed, lock=_locking(session, write))
        updates: list[dict[str, Any]] = []
        for found, first in keyed.items():
            current = stored.get(found)
            if current is None:
                state = new(first.values, blank, now)
                inserts.append(state)
                group = later.get(found, ())
            else:
                state = dict(current)
                group = (first, *later.get(found, ()))
            for row in group:
                if self.merge(state, row.values, now):
                    report.updated += 1
                else:
                    report.unchanged += 1
            if current is not None and _differs(state, current, self.columns):
                state["_stored"] = current
                updates.append(state)
        report.created += len(inserts)
        if write:
            self.write(session, inserts, updates)
        return errors

    def stored(
        self, connection: Connection, keyed: Mapping[tuple[Any, ...], Row], *, lock: bool
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        """The stored record each key matches: the most recently updated among equals."""
        fields = self.key_fields

        def key_of(record: Mapping[str, Any]) -> tuple[Any, ...]:
            return tuple(comparable(name, record[name]) for name in fields)

        values = {key[0] for key in keyed}
        return _matches(connection, self.table, fields[0], values, fields, key_of, keyed, lock=lock)

    def new(
        self, values: Mapping[str, Any], blank: Mapping[str, Any], now: dt.datetime
    ) -> dict[str, Any]:
        return {**blank, **values}

    def merge(self, state: dict[str, Any], values: Mapping[str, Any], now: dt.datetime) -> bool:
        """Apply a row's values to a record; False when nothing changed. Empty cells change
        nothing; attributes are merged key by key."""
        changed = False
        for name in self.fields:
            value = values.get(name)
            if value is not None and state[name] != value:
                state[name] = value
                changed = True
        given = values["attributes"]
        if given and any(state["attributes"].get(k) != v for k, v in given.items()):
            state["attributes"] = {**state["attributes"], **given}
            changed = True
        if changed:
            _touch(state, now)
        return changed

    def write(
        self, session: Session, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
    ) -> None:
        connection = session.connection()
        insert_rows(connection, self.table, self.columns, inserts)
        self.update(connection, updates)

    def update(self, connection: Connection, updates: list[dict[str, Any]]) -> None:
        columns = self.columns
        self.changed.update(s["id"] for s in updates)
        _bulk_update(
            connection,
            self.table,
            [{"_id": s["id"], **{c: s[c] for c in columns}} for s in updates],
        )
        audit.record(
            connection,
            self.audited,
            [(s["id"], s["_stored"], {c: s[c] for c in columns}) for s in updates],
            self.context.actor,
            utcnow(),
        )


class _AccountWriter(_RecordWriter):
    table = ACCOUNTS
    audited = Audited.ACCOUNT
    fields = ACCOUNT_COLUMNS
    key_fields = ("name",)

    def rescore(self, session: Session, last: int) -> None:
        # A new account has no contacts or leads yet: only changed ones score differently.
        if self.changed:
            evaluation.rescore_for(session, self.context.catalog, account_ids=sorted(self.changed))
        self.changed.clear()


class _ContactWriter(_RecordWriter):
    table = CONTACTS
    audited = Audited.CONTACT
    fields = CONTACT_COLUMNS
    defaults = {"consent_level": ConsentLevel.NONE.value}

    def rescore(self, session: Session, last: int) -> None:
        # A new contact has no leads yet: only changed ones score differently.
        if self.changed:
            evaluation.rescore_for(session, self.context.catalog, contact_ids=sorted(self.changed))
        self.changed.clear()

    def __init__(self, context: _Context) -> None:
        super().__init__(context)
        self.key_fields = matching.DEFAULTS[Entity.CONTACT].fields
        self.erasures: _Erasures | None = None
        self.returning: list[str] = []

    def warnings(self, session: Session) -> list[str]:
        strategy = matching.strategy(session, Entity.CONTACT, None)
        self.key_fields = strategy.fields
        missing = [f for f in strategy.fields if f not in self.plan.fields]
        if not missing:
            return []
        return [
            f"the contact matching strategy '{strategy.name}' compares "
            f"{', '.join(strategy.fields)}, but no column gives {', '.join(missing)}: every "
            "row creates a new contact"
        ]

    def checks(
        self, session: Session, rows: list[Row], write: bool
    ) -> tuple[list[RowError], set[int]]:
        errors: list[RowError] = []
        accounts = {r.values["account_id"] for r in rows if "account_id" in r.values}
        known = _existing_ids(session, ACCOUNTS, accounts)
        for row in rows:
            account = row.values.get("account_id")
            if account is not None and account not in known:
                errors.append(self.error(row, "account_id", f"there is no account {account}"))
        emails = [r.values["email"] for r in rows if "email" in r.values]
        erasures = self.erasures = _Erasures(session, emails)
        back: dict[int, str] = {}
        if erasures.erased:
            for row in rows:
                email = row.values.get("email")
                if email is None or email not in erasures:
                    continue
                if row.values.get("consent_level", ConsentLevel.NONE.value) == ConsentLevel.NONE:
                    errors.append(
                        self.error(
                            row,
                            "email",
                            f"{ERASED}; they can be imported again only with their consent "
                            "(a consent_level column other than none)",
                        )
                    )
                else:
                    back[row.line] = email
        bad = {e.line for e in errors}
        self.returning = [email for line, email in back.items() if line not in bad]
        return errors, bad

    def new(
        self, values: Mapping[str, Any], blank: Mapping[str, Any], now: dt.datetime
    ) -> dict[str, Any]:
        state = {**blank, **values}
        level = state["consent_level"]
        if level != ConsentLevel.NONE:
            state["_consents"] = [self.consent_change(values, level, ConsentLevel.NONE, now)]
        return state

    def merge(self, state: dict[str, Any], values: Mapping[str, Any], now: dt.datetime) -> bool:
        changed = super().merge(state, values, now)
        level = values.get("consent_level")
        if level is not None and level != state["consent_level"]:
            change = self.consent_change(values, level, state["consent_level"], now)
            state.setdefault("_consents", []).append(change)
            state["consent_level"] = level
            _touch(state, now)
            changed = True
        return changed

    def consent_change(
        self, values: Mapping[str, Any], level: str, previous: str, now: dt.datetime
    ) -> dict[str, Any]:
        return {
            "level": level,
            "previous_level": previous,
            "source": values.get("consent_source") or self.context.options.source,
            "note": None,
            "at": now,
        }

    def write(
        self, session: Session, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
    ) -> None:
        connection = session.connection()
        if self.erasures is not None:
            self.erasures.forget(session, self.returning)
        columns = self.columns
        consenting = [s for s in inserts if "_consents" in s]
        if consenting:
            rows = [{c: s[c] for c in columns} for s in consenting]
            for state, new_id in zip(
                consenting, _insert_returning_ids(connection, self.table, rows), strict=True
            ):
                state["id"] = new_id
            inserts = [s for s in inserts if "_consents" not in s]
        insert_rows(connection, self.table, columns, inserts)
        self.update(connection, updates)
        consents = [
            {"contact_id": state["id"], **change}
            for state in (*consenting, *updates)
            for change in state.get("_consents", ())
        ]
        if consents:
            insert_rows(connection, CONSENT_CHANGES, tuple(consents[0]), consents)


# -- leads --------------------------------------------------------------------------------------

LEAD_FIELDS = (
    "topic",
    "email",
    "context_kind",
    "context_id",
    "parent_contact_id",
    "parent_account_id",
    "owner",
    "sales_ready",
)


LEAD_KEY_COLUMNS = ("email", "topic", "context_kind", "context_id", "parent_contact_id")


class _Draft:
    """A lead as a dict, as bpf reads and moves it."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    @property
    def process(self) -> str:
        process: str = self.state["process"]
        return process

    @process.setter
    def process(self, value: str) -> None:
        self.state["process"] = value

    @property
    def stage(self) -> str:
        stage: str = self.state["stage"]
        return stage

    @stage.setter
    def stage(self, value: str) -> None:
        self.state["stage"] = value

    def field_value(self, name: str) -> Any:
        if name in models.LEAD_COLUMNS:
            return self.state.get(name)
        return self.state["attributes"].get(name)


class _LeadWriter(_Writer):
    """Leads: matched among open leads by the lead strategy; new ones start in the first stage
    of their process, and what their fields set off (sales ready, a boolean step) moves them."""

    table = LEADS

    def __init__(self, context: _Context) -> None:
        super().__init__(context)
        self.strategy = matching.DEFAULTS[Entity.LEAD]

    def rescore(self, session: Session, last: int) -> None:
        leads = self.changed | set(self.new_ids(session, last))
        if leads:
            catalog = self.context.catalog
            # Imported leads that are sales ready or in a routing stage get their owners first,
            # as the API's changes do.
            assignment.route(session.connection(), catalog, leads, self.context.actor, utcnow())
            evaluation.rescore(session, catalog, lead_ids=sorted(leads))
        self.changed.clear()

    def warnings(self, session: Session) -> list[str]:
        self.strategy = matching.strategy(session, Entity.LEAD, None)
        gives = set(self.plan.fields)
        names = {
            "email": {"email"},
            "topic": {"topic"},
            "context": {"context_kind", "context_id"},
            "parent_contact": {"parent_contact_id"},
        }
        missing = [f for f in self.strategy.fields if not names[f] <= gives]
        if not missing:
            return []
        return [
            f"the lead matching strategy '{self.strategy.name}' compares "
            f"{', '.join(self.strategy.fields)}, but the file does not give {', '.join(missing)}: "
            "every row creates a new lead"
        ]

    def key(self, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        key: list[Any] = []
        for name in self.strategy.fields:
            if name == "context":
                kind, ident = values.get("context_kind"), values.get("context_id")
                if kind is None or ident is None:
                    return None
                key.append((kind, ident))
            elif name == "parent_contact":
                contact = values.get("parent_contact_id")
                if contact is None:
                    return None
                key.append(contact)
            else:
                value = values.get(name)
                if value is None:
                    return None
                key.append(comparable(name, value))
        return tuple(key)

    def apply(
        self, session: Session, rows: list[Row], report: Report, *, write: bool
    ) -> list[RowError]:
        catalog = self.context.catalog
        connection = session.connection()
        errors: list[RowError] = []
        contacts = _existing_ids(
            session,
            CONTACTS,
            {r.values["parent_contact_id"] for r in rows if "parent_contact_id" in r.values},
        )
        accounts = _existing_ids(
            session,
            ACCOUNTS,
            {r.values["parent_account_id"] for r in rows if "parent_account_id" in r.values},
        )
        erasures = _Erasures(session, [r.values["email"] for r in rows if "email" in r.values])
        good: list[Row] = []
        for row in rows:
            values = row.values
            found: list[RowError] = []
            contact = values.get("parent_contact_id")
            if contact is not None and contact not in contacts:
                found.append(self.error(row, "parent_contact_id", f"there is no contact {contact}"))
            account = values.get("parent_account_id")
            if account is not None and account not in accounts:
                found.append(self.error(row, "parent_account_id", f"there is no account {account}"))
            process = values.get("process")
            if process is not None and process not in catalog.processes:
                hint = suggest(process, catalog.processes)
                found.append(
                    self.error(
                        row,
                        "process",
                        f"'{process}' is not a process"
                        + (f"; {hint}" if hint else f"; one of: {', '.join(catalog.processes)}"),
                    )
                )
            for given, other in (("context_kind", "context_id"), ("context_id", "context_kind")):
                if given in values and other not in values:
                    found.append(self.error(row, given, f"a marketing context needs {other} too"))
            email = values.get("email")
            if email is not None and email in erasures:
                found.append(
                    self.error(
                        row,
                        "email",
                        f"{ERASED}; import them as a contact with their consent first",
                    )
                )
            if found:
                errors += found
            else:
                good.append(row)

        keyed: dict[tuple[Any, ...], list[Row]] = {}
        singles: list[Row] = []
        for row in good:
            key = self.key(row.values)
            if key is None:
                singles.append(row)
            else:
                keyed.setdefault(key, []).append(row)
        stored = self.stored(connection, keyed, lock=_locking(session, write))
        now = utcnow()
        states: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for key, group in keyed.items():
            current = stored.get(key)
            state = dict(current) if current is not None else None
            for row in group:
                if state is None:
                    state = self.new(row.values, now)
                    report.created += 1
                    continue
                process = row.values.get("process")
                if process is not None and process != state["process"]:
                    which = f"lead {state['id']}" if "id" in state else "an earlier row's lead"
                    errors.append(
                        self.error(
                            row,
                            "process",
                            f"matches {which}, which walks process '{state['process']}'; an "
                            "import does not move a lead to another process",
                        )
                    )
                    continue
                if self.merge(state, row.values, now):
                    report.updated += 1
                else:
                    report.unchanged += 1
            if state is not None:
                states.append((state, current))
        for row in singles:
            states.append((self.new(row.values, now), None))
            report.created += 1
        if write:
            self.write(connection, states, now)
        return errors

    def stored(
        self, connection: Connection, keyed: Mapping[tuple[Any, ...], list[Row]], *, lock: bool
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        first = self.strategy.fields[0]
        if first == "context":
            column, values = "context_id", {key[0][1] for key in keyed}
        elif first == "parent_contact":
            column, values = "parent_contact_id", {key[0] for key in keyed}
        else:
            column, values = first, {key[0] for key in keyed}
        found = _matches(
            connection,
            LEADS,
            column,
            values,
            LEAD_KEY_COLUMNS,
            self.key,
            keyed,
            lock=lock,
            where=[LEADS.c.status == LeadStatus.OPEN.value],
        )
        for record in found.values():
            record["attributes"] = dict(record["attributes"] or {})
        return found

    def new(self, values: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
        catalog = self.context.catalog
        process = catalog.get(values["process"]) if "process" in values else catalog.default
        state: dict[str, Any] = {name: values.get(name) for name in LEAD_FIELDS}
        state.update(
            sales_ready=bool(values.get("sales_ready", False)),
            attributes=dict(values["attributes"]),
            status=LeadStatus.OPEN.value,
            status_reason="new",
            process=process.name,
            stage=process.first_stage,
            stage_entered_at=now,
            version=1,
            created_at=now,
            updated_at=now,
        )
        outcomes = [
            outcome
            for name in ("sales_ready", *state["attributes"])
            for outcome in catalog.outcomes_of_change(name, None, _Draft(state).field_value(name))
        ]
        self.fire(state, outcomes, now)
        return state

    def merge(self, state: dict[str, Any], values: Mapping[str, Any], now: dt.datetime) -> bool:
        catalog = self.context.catalog
        outcomes: list[str] = []
        changed = False
        for name in LEAD_FIELDS:
            value = values.get(name)
            if value is not None and state[name] != value:
                outcomes += catalog.outcomes_of_change(name, state[name], value)
                state[name] = value
                changed = True
        given = values["attributes"]
        for name, value in given.items():
            old = state["attributes"].get(name)
            if old != value:
                outcomes += catalog.outcomes_of_change(name, old, value)
                state["attributes"] = {**state["attributes"], name: value}
                changed = True
        if not changed:
            return False
        self.fire(state, outcomes, now)
        _touch(state, now)
        return True

    def fire(self, state: dict[str, Any], outcomes: list[str], now: dt.datetime) -> None:
        """Apply the automations these outcomes set off; the moves are kept to be recorded."""
        if not outcomes:
            return
        process = self.context.catalog.get(state["process"])
        moves = process.apply_outcomes(_Draft(state), outcomes, automated=False, switches={})
        if moves:
            state.setdefault("_moves", []).append(
                (state["process"], moves, state["stage_entered_at"])
            )
            state["stage_entered_at"] = now

    def write(
        self,
        connection: Connection,
        states: list[tuple[dict[str, Any], dict[str, Any] | None]],
        now: dt.datetime,
    ) -> None:
        keys = (
            *LEAD_FIELDS,
            "attributes",
            "status",
            "status_reason",
            "process",
            "stage",
            "stage_entered_at",
            "version",
            "created_at",
            "updated_at",
        )
        inserts = [s for s, current in states if current is None]
        changed = [
            (s, current)
            for s, current in states
            if current is not None and ("_moves" in s or _differs(s, current, keys))
        ]
        updates = [s for s, _ in changed]
        # New leads need their ids when moves are recorded for them or events announce them.
        announced = bool(inserts) and any(
            events.subscribers(connection, t)
            for t in (EventType.LEAD_CREATED, EventType.LEAD_SALES_READY)
        )
        identified = inserts if announced else [s for s in inserts if "_moves" in s]
        ids = _insert_returning_ids(
            connection, LEADS, [{k: s[k] for k in keys} for s in identified]
        )
        for state, new_id in zip(identified, ids, strict=True):
            state["id"] = new_id
        if not announced:
            insert_rows(connection, LEADS, keys, [s for s in inserts if "_moves" not in s])
        self.changed.update(s["id"] for s in updates)
        _bulk_update(
            connection, LEADS, [{"_id": s["id"], **{k: s[k] for k in keys}} for s in updates]
        )
        actor = self.context.actor
        audit.record(
            connection,
            Audited.LEAD,
            [(s["id"], current, {k: s[k] for k in keys}) for s, current in changed],
            actor,
            now,
        )
        if announced:
            announce_created(connection, inserts, actor)
        if updates and any(
            events.subscribers(connection, t)
            for t in (EventType.LEAD_UPDATED, EventType.LEAD_SALES_READY)
        ):
            fields = (*LEAD_FIELDS, "attributes", "status", "status_reason")
            updated = {id(s) for s in updates}
            announce_updated(
                connection,
                [
                    (
                        s["id"],
                        s["version"],
                        current,
                        {k: s[k] for k in fields if s[k] != current[k]},
                    )
                    for s, current in states
                    if current is not None and id(s) in updated
                ],
                actor,
            )
        history = [
            row
            for s, _ in states
            for process, moves, entered in s.get("_moves", ())
            for row in history_rows(s["id"], process, moves, entered, actor, None, now)
        ]
        if history:
            insert_rows(connection, STAGE_CHANGES, tuple(history[0]), history)
            announce(connection, history)
            moved = {s["id"]: s for s, _ in states if "_moves" in s}
            activity_rows.on_entry(connection, self.context.catalog, history, moved)


# -- interactions -------------------------------------------------------------------------------


INTERACTION_COLUMNS = interaction_service.COLUMNS


class _InteractionWriter(_Writer):
    """Interactions: checked like the batch endpoint's, stored once per external_id."""

    table = INTERACTIONS

    def rescore(self, session: Session, last: int) -> None:
        table = INTERACTIONS
        rows = session.connection().execute(
            select(table.c.lead_id, table.c.contact_id).where(table.c.id > last)
        )
        stored = [{"lead_id": lead, "contact_id": contact} for lead, contact in rows]
        if stored:
            evaluation.rescore_interactions(session, self.context.catalog, stored)

    def apply(
        self, session: Session, rows: list[Row], report: Report, *, write: bool
    ) -> list[RowError]:
        connection = session.connection()
        now = utcnow()
        dialect = connection.dialect.name
        emails = {r.values["email"] for r in rows if "email" in r.values}
        by_email: dict[str, int] = {}
        erasures: _Erasures | None = None
        if emails:
            query = (
                select(CONTACTS.c.id, CONTACTS.c.email)
                .where(in_values(CONTACTS.c.email, emails, dialect))
                .order_by(CONTACTS.c.updated_at.desc(), CONTACTS.c.id.desc())
            )
            for contact_id, email in connection.execute(query):
                by_email.setdefault(email, contact_id)
            unknown = emails - by_email.keys()
            if unknown:
                erasures = _Erasures(session, unknown)
        known = interaction_service.Known.read(
            connection,
            self.context.interaction_kinds,
            {r.values["contact_id"] for r in rows if "contact_id" in r.values}
            | set(by_email.values()),
            {r.values["lead_id"] for r in rows if "lead_id" in r.values},
        )
        externals = {r.values["external_id"] for r in rows if "external_id" in r.values}
        stored_externals: set[str] = set()
        if externals:
            column = INTERACTIONS.c.external_id
            query = select(column).where(in_values(column, externals, dialect))
            stored_externals = set(connection.execute(query).scalars())

        errors: list[RowError] = []
        inserts: list[dict[str, Any]] = []
        seen: set[str] = set()
        for row in rows:
            values = row.values
            found: list[RowError] = []
            contact_id = values.get("contact_id")
            email = values.get("email")
            by_email_errors: list[RowError] = []
            if email is not None:
                by_this_email = by_email.get(email)
                if by_this_email is None:
                    reason = (
                        ERASED
                        if erasures is not None and email in erasures
                        else "there is no contact with this email"
                    )
                    by_email_errors.append(self.error(row, "email", reason))
                elif contact_id is not None and contact_id != by_this_email:
                    by_email_errors.append(
                        self.error(
                            row,
                            "email",
                            f"is the email of contact {by_this_email}, not of {contact_id}",
                        )
                    )
                else:
                    contact_id = by_this_email
            lead_id = values.get("lead_id")
            contact_id, problems = interaction_service.check(
                known, values["kind"], values["occurred_at"], contact_id, lead_id
            )
            # In the file's order: what the row says, then whom it is about.
            found += [self.error(row, f, r) for f, r in problems if f in ("kind", "occurred_at")]
            found += by_email_errors
            found += [self.error(row, f, r) for f, r in problems if f in ("contact_id", "lead_id")]
            if contact_id is None and lead_id is None and email is None:
                found.append(
                    RowError(
                        row.line,
                        None,
                        "an interaction belongs to a contact (contact_id or email), a lead "
                        "(lead_id), or both",
                    )
                )
            if found:
                errors += found
                continue
            external = values.get("external_id")
            if external is not None:
                if external in stored_externals or external in seen:
                    report.unchanged += 1
                    continue
                seen.add(external)
            report.created += 1
            inserts.append(
                {
                    "kind": values["kind"],
                    "occurred_at": values["occurred_at"],
                    "occurred_epoch": epoch(values["occurred_at"]),
                    "contact_id": contact_id,
                    "lead_id": lead_id,
                    "target": values.get("target"),
                    "properties": values["properties"],
                    "external_id": external,
                    "created_at": now,
                }
            )
        if write:
            insert_rows(connection, INTERACTIONS, INTERACTION_COLUMNS, inserts)
        return errors


WRITERS: dict[Kind, type[_Writer]] = {
    Kind.CONTACTS: _ContactWriter,
    Kind.ACCOUNTS: _AccountWriter,
    Kind.LEADS: _LeadWriter,
    Kind.INTERACTIONS: _InteractionWriter,
}
