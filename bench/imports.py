"""import: rows/s of `leadflow import` against a bare executemany insert of the same rows.

A contacts CSV (mapped columns, a custom attribute, some emails repeated further down the file)
is imported through `imports.import_path`, the code `leadflow import` runs, into a fresh
database; then an interactions CSV (external ids, a property, contacts by id) into the same
database. In the same run, a second fresh database of the same schema gets the same rows, as the
import stores them, through the DB-API driver's `executemany` in one transaction: the baseline
is the time of the `executemany` calls and the commit alone, the rows ready in memory, so the
import is measured against the fastest any code could put these rows into these tables. Where a
table has search documents (contacts), the baseline fills them as the import does: the insert
trigger stands aside and one INSERT ... SELECT at the end writes them all.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

import bpf
from api.services import imports
from api.storage import migrate, search
from api.storage.db import Database
from bench.database import bench_database
from bench.report import print_result
from bpf.actors import Actor
from leads import csvimport
from leads.csvimport import Kind
from leads.models import INTERACTION_KINDS
from leads.types import epoch

NAME = "import"
DESCRIPTION = "rows/s of leadflow import (contacts, interactions) against a bare executemany"
TARGET = 0.25
REPO_ROOT = Path(__file__).resolve().parent.parent
CHUNK = 10_000
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

CONTACT_HEADER = [
    "E-mail",
    "First name",
    "Last name",
    "Job title",
    "Company",
    "Phone",
    "Country",
    "Industry",
    "Lead source",
]
CONTACT_MAPPING = {
    "E-mail": "email",
    "First name": "first_name",
    "Last name": "last_name",
    "Job title": "job_title",
    "Lead source": "attributes.lead_source",
}
INTERACTION_HEADER = ["kind", "occurred_at", "contact_id", "target", "external_id", "campaign"]
KINDS = ("email_open", "email_click", "page_visit", "form_submit")
FIRST = ("Ana", "Bob", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jun")
LAST = ("Lopez", "Smith", "Novak", "Kim", "Okafor", "Berg", "Rossi", "Sato", "Weber", "Silva")
TITLES = ("CTO", "Head of Marketing", "Buyer", "Engineer", "CFO", "Operations lead")
COUNTRIES = ("Germany", "France", "Spain", "Czechia", "Japan", "Brazil", "Canada")
INDUSTRIES = ("retail", "manufacturing", "software", "health", "finance", "logistics")
SOURCES = ("webinar", "trade show", "website", "partner", "purchased list")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="contact rows (default 1,000,000)"
    )
    parser.add_argument(
        "--interactions",
        type=int,
        default=5_000_000,
        help="interaction rows imported after the contacts; 0 skips them (default 5,000,000)",
    )
    parser.add_argument(
        "--duplicates",
        type=float,
        default=0.02,
        help="share of contact rows that repeat an earlier row's email (default 0.02)",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=imports.BATCH_ROWS,
        help=f"rows per batch (default {imports.BATCH_ROWS})",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on loopback, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
        "postgres: fresh databases are created there and dropped at the end "
        "(default: SQLite files in a temporary directory)",
    )


# -- the files ----------------------------------------------------------------------------------


def write_contacts(path: Path, rows: int, duplicates: float, seed: int = 7) -> int:
    """The contacts CSV; returns how many distinct emails it holds."""
    chance = random.Random(seed)
    unique = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CONTACT_HEADER)
        for _ in range(rows):
            if unique and chance.random() < duplicates:
                number = chance.randrange(unique)
                title = chance.choice(TITLES) + " (updated)"
            else:
                number = unique
                unique += 1
                title = chance.choice(TITLES)
            first, last = FIRST[number % 10], LAST[(number // 10) % 10]
            writer.writerow(
                [
                    f"{first}.{last}.{number}@Example.com",
                    first,
                    last,
                    title,
                    f"Company {number % 5000}",
                    f"+49 30 {number:08d}",
                    COUNTRIES[number % len(COUNTRIES)],
                    INDUSTRIES[number % len(INDUSTRIES)],
                    SOURCES[number % len(SOURCES)],
                ]
            )
    return unique


def write_interactions(path: Path, rows: int, contacts: int, seed: int = 11) -> None:
    chance = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(INTERACTION_HEADER)
        for number in range(rows):
            moment = START + dt.timedelta(seconds=number * 3 + chance.randrange(3))
            writer.writerow(
                [
                    KINDS[number % len(KINDS)],
                    moment.isoformat().replace("+00:00", "Z"),
                    chance.randrange(1, contacts + 1),
                    f"/pages/{number % 997}",
                    f"ext-{number}",
                    f"spring-{number % 13}",
                ]
            )


# -- the baseline: the same rows through executemany ---------------------------------------------


def contact_rows(path: Path) -> Iterator[list[dict[str, Any]]]:
    """The contact rows as the import stores them, CHUNK at a time."""
    now = dt.datetime.now(dt.UTC)
    chunk: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as source:
        records = csv.reader(source)
        next(records)
        for email, first, last, title, company, phone, country, industry, lead in records:
            chunk.append(
                {
                    "email": email.lower(),
                    "first_name": first,
                    "last_name": last,
                    "job_title": title,
                    "company": company,
                    "phone": phone,
                    "country": country,
                    "industry": industry,
                    "attributes": json.dumps({"lead_source": lead}),
                    "consent_level": "none",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def interaction_rows(path: Path) -> Iterator[list[dict[str, Any]]]:
    now = dt.datetime.now(dt.UTC)
    chunk: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as source:
        records = csv.reader(source)
        next(records)
        for kind, occurred, contact, target, external, campaign in records:
            moment = dt.datetime.fromisoformat(occurred)
            chunk.append(
                {
                    "kind": kind,
                    "occurred_at": moment,
                    "occurred_epoch": epoch(moment),
                    "contact_id": int(contact),
                    "target": target,
                    "properties": json.dumps({"campaign": campaign}),
                    "external_id": external,
                    "created_at": now,
                }
            )
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def bare_insert(url: str, table: str, chunks: Iterator[list[dict[str, Any]]]) -> tuple[int, float]:
    """Insert every chunk with the driver's executemany in one transaction, then the search
    documents of the rows; return the rows and the seconds spent in the statements and the
    commit (making the chunks is not timed)."""
    sqlite = make_url(url).get_backend_name() == "sqlite"
    mark = "?" if sqlite else "%s"
    searched = search.SEARCHED.get(table)
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if sqlite:
            # The same settings as the service's connections (api.db).
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
        if searched is not None:
            cursor.execute(f"INSERT INTO search_deferral (name) VALUES ({mark})", (table,))
        rows = 0
        spent = 0.0
        statement = None
        params: list[Any] = []
        for chunk in chunks:
            if statement is None:
                columns = list(chunk[0])
                marks = ", ".join(mark for _ in columns)
                statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            params = [tuple(_bare(v, sqlite) for v in row.values()) for row in chunk]
            started = time.perf_counter()
            cursor.executemany(statement, params)
            spent += time.perf_counter() - started
            rows += len(chunk)
        started = time.perf_counter()
        if searched is not None:
            cursor.execute("DELETE FROM search_deferral")
            ident = "rowid" if sqlite else "id"
            cursor.execute(
                f"INSERT INTO {searched} ({ident}, doc) SELECT id, doc FROM {table}_document"
            )
        raw.commit()
        spent += time.perf_counter() - started
    finally:
        raw.close()
        engine.dispose()
    return rows, spent


def _bare(value: Any, sqlite: bool) -> Any:
    if sqlite and isinstance(value, dt.datetime):
        # How SQLAlchemy keeps a UTC datetime in SQLite.
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
    return value


# -- running ------------------------------------------------------------------------------------


def timed_import(
    url: str, kind: Kind, path: Path, mapping: csvimport.ColumnMapping | None, batch_rows: int
) -> imports.Report:
    db = Database(url)
    catalog = bpf.Catalog.from_file(REPO_ROOT / "stages.yaml")
    shown = [0.0]

    def progress(report: imports.Report, _bytes: int) -> None:
        if report.seconds - shown[0] >= 10:
            shown[0] = report.seconds
            print(
                f"  {kind.value}: {report.rows:>10,} rows, {report.rows_per_second:>9,.0f} rows/s",
                flush=True,
            )

    try:
        return imports.import_path(
            db,
            catalog,
            kind,
            path,
            mapping=mapping,
            options=imports.Options(batch_rows=batch_rows, source="bench"),
            actor=Actor(bpf.ActorKind.USER, "bench"),
            interaction_kinds=INTERACTION_KINDS,
            progress=progress,
        )
    finally:
        db.dispose()


def migrated(url: str) -> str:
    db = Database(url)
    try:
        migrate.upgrade(db.write_engine)
    finally:
        db.dispose()
    return url


def run(args: argparse.Namespace) -> int:
    if args.rows < 1 or args.interactions < 0 or not 0 <= args.duplicates < 1:
        raise SystemExit("need --rows >= 1, --interactions >= 0 and 0 <= --duplicates < 1")
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as workdir:
        work = Path(workdir)
        (work / "import").mkdir()
        (work / "bare").mkdir()
        (work / "bare-before").mkdir()
        with (
            bench_database(args.database_url, work / "import") as import_url,
            bench_database(args.database_url, work / "bare-before") as before_url,
            bench_database(args.database_url, work / "bare") as bare_url,
        ):
            return _measure(
                args, work, migrated(import_url), migrated(before_url), migrated(bare_url)
            )


@dataclass(frozen=True)
class _Contacts:
    """The contacts import and its baseline, the mean of the bare inserts before and after."""

    report: imports.Report
    unique: int
    bare_rows: int
    bare_seconds: float
    before_rate: float
    after_rate: float

    @property
    def bare_rate(self) -> float:
        return self.bare_rows / self.bare_seconds

    @property
    def ratio(self) -> float:
        return self.report.rows_per_second / self.bare_rate


def _measure(
    args: argparse.Namespace, work: Path, import_url: str, before_url: str, bare_url: str
) -> int:
    database = make_url(import_url).get_backend_name()
    print(f"{NAME}: {database}, {args.rows:,} contacts, {args.interactions:,} interactions")
    contacts = _import_contacts(args, work, import_url, before_url, bare_url)
    report = contacts.report
    failures = report.bad_rows + (0 if report.created == contacts.unique else 1)
    extra: dict[str, Any] = {}
    if args.interactions:
        bad, extra = _import_interactions(args, work, import_url, bare_url, contacts.unique)
        failures += bad
    print_result(
        NAME,
        report.rows_per_second,
        "rows/s",
        contacts.bare_rate,
        target=TARGET,
        passed=failures == 0 and contacts.ratio >= TARGET,
        rows=args.rows,
        distinct=contacts.unique,
        seconds=round(report.seconds, 2),
        baseline_seconds=round(contacts.bare_seconds, 2),
        baseline_before=round(contacts.before_rate, 1),
        baseline_after=round(contacts.after_rate, 1),
        batch_rows=args.batch_rows,
        database=database,
        **extra,
    )
    return 1 if failures else 0


def _import_contacts(
    args: argparse.Namespace, work: Path, import_url: str, before_url: str, bare_url: str
) -> _Contacts:
    """Write the contacts CSV, import it between two bare inserts of its rows, and compare."""
    contacts_csv = work / "contacts.csv"
    started = time.perf_counter()
    unique = write_contacts(contacts_csv, args.rows, args.duplicates)
    size = contacts_csv.stat().st_size
    print(
        f"wrote {contacts_csv.name}: {args.rows:,} rows ({unique:,} distinct emails), "
        f"{size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    # The bare insert runs before and after the import, each into a fresh database, and the
    # mean is the baseline: the machine is shared, and its load drifts during a run.
    before_rows, before_seconds = bare_insert(before_url, "contact", contact_rows(contacts_csv))
    print(f"bare executemany contacts, before: {before_rows / before_seconds:,.0f} rows/s")
    mapping = csvimport.mapping_from_object(CONTACT_MAPPING)
    report = timed_import(import_url, Kind.CONTACTS, contacts_csv, mapping, args.batch_rows)
    _show("import contacts", report)
    after_rows, after_seconds = bare_insert(bare_url, "contact", contact_rows(contacts_csv))
    print(f"bare executemany contacts, after: {after_rows / after_seconds:,.0f} rows/s")
    contacts = _Contacts(
        report,
        unique,
        after_rows,
        (before_seconds + after_seconds) / 2,
        before_rows / before_seconds,
        after_rows / after_seconds,
    )
    print(
        f"bare executemany contacts: {after_rows:,} rows in {contacts.bare_seconds:.1f} s "
        f"(mean), {contacts.bare_rate:,.0f} rows/s",
        flush=True,
    )
    print(f"contacts import reaches {contacts.ratio:.1%} of the bare insert (target {TARGET:.0%})")
    return contacts


def _import_interactions(
    args: argparse.Namespace, work: Path, import_url: str, bare_url: str, contacts: int
) -> tuple[int, dict[str, Any]]:
    """Write the interactions CSV, import it, insert its rows bare; return the failures and
    the figures for the result."""
    interactions_csv = work / "interactions.csv"
    started = time.perf_counter()
    write_interactions(interactions_csv, args.interactions, contacts)
    print(
        f"wrote {interactions_csv.name}: {args.interactions:,} rows, "
        f"{interactions_csv.stat().st_size / 1e6:,.0f} MB in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    imported = timed_import(import_url, Kind.INTERACTIONS, interactions_csv, None, args.batch_rows)
    _show("import interactions", imported)
    rows, seconds = bare_insert(bare_url, "interaction", interaction_rows(interactions_csv))
    rate = rows / seconds
    print(
        f"bare executemany interactions: {rows:,} rows in {seconds:.1f} s, {rate:,.0f} rows/s",
        flush=True,
    )
    print(f"interactions import reaches {imported.rows_per_second / rate:.1%} of the bare insert")
    failures = imported.bad_rows + (0 if imported.created == args.interactions else 1)
    return failures, {
        "interactions": args.interactions,
        "interactions_value": round(imported.rows_per_second, 1),
        "interactions_baseline": round(rate, 1),
        "interactions_ratio": round(imported.rows_per_second / rate, 4),
        "interactions_seconds": round(imported.seconds, 2),
    }


def _show(what: str, report: imports.Report) -> None:
    print(
        f"{what}: {report.rows:,} rows in {report.seconds:.1f} s, "
        f"{report.rows_per_second:,.0f} rows/s ({report.created:,} created, "
        f"{report.updated:,} updated, {report.unchanged:,} unchanged, {report.bad_rows:,} bad)",
        flush=True,
    )
