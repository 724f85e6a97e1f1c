"""ingest: interactions/s through POST /api/interactions, batches of 1,000, several connections.

The real `leadflow serve` runs on a fresh database; contacts are created through
POST /api/imports/contacts; then every connection posts batches of 1,000 interactions (each
with its own external_id, a contact, a target and a property), one after another, until all are
stored. Each answer must be 201.

The baseline is the same interaction rows, as the service stores them, put into a fresh
database of the same schema (holding the same contacts) by the DB-API driver's executemany in
one transaction, in the same run: the most any code could store these rows in these tables.
GET /health would measure requests, not interactions, so it says little about a batch endpoint.
The target is absolute: at least 20,000 interactions/s on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.client import Connection, open_connections
from bench.database import bench_database, prepare
from bench.imports import bare_insert, migrated
from bench.load import run_async
from bench.report import print_result
from bench.server import Server, running_server
from leads.types import epoch

NAME = "ingest"
DESCRIPTION = "interactions/s of POST /api/interactions (batches of 1,000) against executemany"
TARGET = 20_000.0
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KINDS = ("email_open", "email_click", "page_visit", "form_submit")
CSV_CONTENT = b"Content-Type: text/csv\r\n"
JSON_CONTENT = b"Content-Type: application/json\r\n"
WARMUP_BATCHES = 10
ERROR_SAMPLES = 5
PROGRESS_SECONDS = 10.0


class SetupFailed(RuntimeError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interactions",
        type=int,
        default=5_000_000,
        help="interactions to post (default 5,000,000)",
    )
    parser.add_argument(
        "--batch", type=int, default=1000, help="interactions per request (default 1,000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="connections posting at once (default 4)"
    )
    parser.add_argument(
        "--contacts",
        type=int,
        default=100_000,
        help="contacts the interactions belong to (default 100,000)",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on loopback, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
        "postgres: fresh databases are created there and dropped at the end "
        "(default: SQLite in a temporary directory)",
    )


def item(number: int, contacts: int) -> dict[str, Any]:
    """Interaction `number`, the same in the request and in the baseline."""
    moment = START + dt.timedelta(seconds=number)
    return {
        "kind": KINDS[number % len(KINDS)],
        "occurred_at": moment,
        "contact_id": number * 7919 % contacts + 1,
        "target": f"/pages/{number % 997}",
        "external_id": f"ingest-{number}",
        "properties": {"campaign": f"spring-{number % 13}"},
    }


def batch_body(first: int, size: int, contacts: int) -> bytes:
    items = []
    for number in range(first, first + size):
        values = item(number, contacts)
        values["occurred_at"] = values["occurred_at"].isoformat().replace("+00:00", "Z")
        items.append(values)
    return json.dumps({"interactions": items}, separators=(",", ":")).encode()


def stored_rows(total: int, contacts: int, chunk: int = 10_000) -> Iterator[list[dict[str, Any]]]:
    """The interactions as the service stores them, `chunk` at a time, for the baseline."""
    now = dt.datetime.now(dt.UTC)
    for first in range(0, total, chunk):
        rows = []
        for number in range(first, min(first + chunk, total)):
            values = item(number, contacts)
            values.update(
                occurred_epoch=epoch(values["occurred_at"]),
                lead_id=None,
                properties=json.dumps(values["properties"]),
                created_at=now,
            )
            rows.append(values)
        yield rows


def contact_rows(contacts: int, chunk: int = 10_000) -> Iterator[list[dict[str, Any]]]:
    now = dt.datetime.now(dt.UTC)
    for first in range(0, contacts, chunk):
        yield [
            {
                "email": f"person{number}@example.com",
                "attributes": "{}",
                "consent_level": "none",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for number in range(first, min(first + chunk, contacts))
        ]


async def seed_contacts(server: Server, auth: bytes, contacts: int) -> None:
    """Create the contacts through the import endpoint, 50,000 rows a request."""
    async with open_connections(server.host, server.port, 1) as (connection,):
        for first in range(0, contacts, 50_000):
            rows = "".join(
                f"person{n}@example.com\n" for n in range(first, min(first + 50_000, contacts))
            )
            answer = await connection.request(
                "POST", "/api/imports/contacts", auth + CSV_CONTENT, ("email\n" + rows).encode()
            )
            if answer.status != 200:
                raise SetupFailed(f"cannot import contacts: {answer.status} {answer.body[:300]!r}")


async def post_all(
    server: Server, auth: bytes, args: argparse.Namespace, first_batch: int, batches: int
) -> tuple[float, int, list[str]]:
    """Post `batches` batches from `first_batch` on over the connections; return the seconds,
    the errors and samples of them."""
    headers = auth + JSON_CONTENT
    next_batch = first_batch
    last_batch = first_batch + batches
    done = 0
    errors = 0
    samples: list[str] = []

    async def worker(connection: Connection) -> None:
        nonlocal next_batch, done, errors
        while next_batch < last_batch:
            number = next_batch
            next_batch += 1
            body = batch_body(number * args.batch, args.batch, args.contacts)
            answer = await connection.request("POST", "/api/interactions", headers, body)
            done += 1
            if answer.status != 201:
                errors += 1
                if len(samples) < ERROR_SAMPLES:
                    samples.append(f"batch {number}: {answer.status} {answer.body[:300]!r}")

    async def report(started: float) -> None:
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            seconds = time.perf_counter() - started
            print(
                f"  {done * args.batch:>10,} interactions, "
                f"{done * args.batch / seconds:>9,.0f} interactions/s",
                flush=True,
            )

    async with open_connections(server.host, server.port, args.concurrency) as connections:
        started = time.perf_counter()
        reporter = asyncio.create_task(report(started))
        try:
            await asyncio.gather(*(worker(c) for c in connections))
        finally:
            reporter.cancel()
        return time.perf_counter() - started, errors, samples


def run(args: argparse.Namespace) -> int:
    if args.batch < 1 or args.concurrency < 1 or args.contacts < 1:
        raise SystemExit("need --batch, --concurrency and --contacts >= 1")
    batches = args.interactions // args.batch
    if batches <= WARMUP_BATCHES:
        raise SystemExit(f"need more than {WARMUP_BATCHES} batches of interactions")
    measured = batches - WARMUP_BATCHES
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as workdir:
        work = Path(workdir)
        (work / "server").mkdir()
        (work / "bare").mkdir()
        with bench_database(args.database_url, work / "server") as url:
            database = make_url(url).get_backend_name()
            key = prepare(url)
            auth = f"Authorization: Bearer {key}\r\n".encode()
            print(f"{NAME}: {database}, {batches:,} batches of {args.batch:,} interactions")
            with running_server(url, work / "server") as server:
                print(f"leadflow serve on {server.host}:{server.port}", flush=True)
                started = time.perf_counter()
                run_async(seed_contacts(server, auth, args.contacts))
                print(
                    f"imported {args.contacts:,} contacts through POST /api/imports/contacts "
                    f"in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                _, warm_errors, warm_samples = run_async(
                    post_all(server, auth, args, 0, WARMUP_BATCHES)
                )
                cpu_before = server.cpu_seconds()
                seconds, errors, samples = run_async(
                    post_all(server, auth, args, WARMUP_BATCHES, measured)
                )
                cpu_after = server.cpu_seconds()
        stored = measured * args.batch
        rate = stored / seconds
        server_cpu = (
            (cpu_after - cpu_before) / stored * 1e6
            if cpu_before is not None and cpu_after is not None
            else None
        )
        print(
            f"posted {stored:,} interactions in {seconds:.1f} s: {rate:,.0f} interactions/s, "
            f"{rate / args.batch:,.1f} requests/s"
            + (f", server cpu {server_cpu:.1f} us/interaction" if server_cpu else "")
        )
        with bench_database(args.database_url, work / "bare") as bare_url:
            migrated(bare_url)
            bare_insert(bare_url, "contact", contact_rows(args.contacts))
            rows, bare_seconds = bare_insert(
                bare_url,
                "interaction",
                stored_rows(batches * args.batch, args.contacts),
            )
    bare_rate = rows / bare_seconds
    print(f"bare executemany of the same {rows:,} interactions: {bare_rate:,.0f} rows/s")
    errors += warm_errors
    for sample in warm_samples + samples:
        print(f"error: {sample}")
    print(
        f"ingest: {rate:,.0f} interactions/s (target {TARGET:,.0f}), "
        f"{rate / bare_rate:.1%} of the bare insert"
    )
    print_result(
        NAME,
        rate,
        "interactions/s",
        bare_rate,
        target=TARGET,
        passed=errors == 0 and rate >= TARGET,
        errors=errors,
        interactions=stored,
        batch=args.batch,
        concurrency=args.concurrency,
        contacts=args.contacts,
        seconds=round(seconds, 2),
        server_cpu_us=None if server_cpu is None else round(server_cpu, 2),
        database=database,
    )
    return 1 if errors else 0
