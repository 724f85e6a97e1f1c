"""search: latency of GET /api/leads searches at 1,000,000 leads, against GET /api/leads/{id}
(a primary-key read) on the same server and database, in the same run.

Data (setup, not measured): the rescore benchmark's generator (leads, their contacts with
names, companies and numbered emails, accounts; no interactions), written through the
migrated schema's triggers (so the search documents are built as an import builds them), with
secondary indexes dropped and rebuilt around the load; then one live scoring model with a
score and grade for every lead, and ANALYZE. SQLite: sqlite3 executemany; PostgreSQL: COPY.

Measured on the real `leadflow serve`, one keep-alive connection, with an admin key: `--queries`
rounds (after one untimed) of one search of each kind, a page of 50 each, and the baseline:
- contains, common: a last name shared by a tenth of the leads (`q=smith`);
- contains, rare: a fragment of one contact's numbered email (`q=meyer.4521@`);
- prefix: a lead email's start (`q=lead4242*`), matching one to a dozen leads;
- score range + sort: a one-point band of the model's score, highest first;
- created range: leads created in one day, oldest first.
Target: p95 < 50 ms for every kind.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from sqlalchemy.engine import make_url

from bench import rescore
from bench.client import Connection, open_connections
from bench.database import bench_database, prepare
from bench.load import Tally
from bench.report import print_result
from bench.server import Server, running_server

NAME = "search"
DESCRIPTION = "p95 ms of lead searches (text, prefix, score, created) against a lead read by id"
TARGET_MS = 50.0
DAY = 86400
HISTORY_DAYS = 120
GRADES = (("A", 60.0), ("B", 30.0), ("C", 10.0), ("D", -1.0))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--leads", type=int, default=1_000_000, help="leads in the database (default 1,000,000)"
    )
    parser.add_argument(
        "--queries", type=int, default=100, help="searches of each kind (default 100)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on loopback, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
        "postgres: a fresh database is created there and dropped at the end "
        "(default: SQLite in a temporary directory)",
    )


def run(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="leadflow-search-") as directory,
        bench_database(args.database_url, Path(directory)) as url,
    ):
        started = time.perf_counter()
        now = int(time.time())
        generator = rescore.Generator(args.leads, 0, args.seed, now - HISTORY_DAYS * DAY, now)
        secret = prepare(url)
        model = _load(url, generator, args.seed)
        print(f"{args.leads:,} leads loaded in {time.perf_counter() - started:.0f} s")
        with running_server(url, Path(directory)) as server:
            tallies, baseline, matched = asyncio.run(
                _searches(server, secret, model, generator, args)
            )
        return _report(args, tallies, baseline, matched)


# -- the data ---------------------------------------------------------------------------------


def _columns(table: str) -> list[str]:
    statement = rescore.INSERTS[table]
    return [
        c.strip() for c in statement[statement.index("(") + 1 : statement.index(")")].split(",")
    ]


def _scores(
    leads: int, chance: random.Random, model: int, stamp: str
) -> Iterator[list[tuple[Any, ...]]]:
    rows = []
    for lead_id in range(1, leads + 1):
        score = float(int(chance.random() ** 2 * 100))
        grade = next(name for name, low in GRADES if score >= low)
        rows.append((model, lead_id, score, grade, score >= 60, False, stamp))
        if len(rows) == rescore.BATCH:
            yield rows
            rows = []
    yield rows


SCORE_COLUMNS = ["model_id", "lead_id", "score", "grade", "reached", "stale", "as_of"]
MODEL = (
    "INSERT INTO scoring_model (id, name, status, definition, version, created_at, updated_at,"
    " live_since) VALUES (1, 'engagement', 'live', '{}', 1, :at, :at, :at)"
)


def _load(url: str, generator: rescore.Generator, seed: int) -> int:
    """Fill the database; the scoring model's id."""
    stamp = rescore._stamp(generator.now)
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        rescore.generate(path, generator)
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute("BEGIN")
            connection.execute(MODEL, {"at": stamp})
            insert = (
                f"INSERT INTO lead_score ({', '.join(SCORE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            )
            for rows in _scores(generator.sizes.leads, random.Random(seed), 1, stamp):
                connection.executemany(insert, rows)
            connection.execute("COMMIT")
            connection.execute("ANALYZE")
        finally:
            connection.close()
        return 1
    _copy(url, generator, seed, stamp)
    return 1


PG_TABLES = ("account", "contact", "lead", "lead_score", "lead_search", "contact_search")


def _copy(url: str, generator: rescore.Generator, seed: int, stamp: str) -> None:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            " AND indexname NOT LIKE '%%pkey'",
            [list(PG_TABLES)],
        ).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        for table, batches in (
            ("account", generator.accounts()),
            ("contact", generator.contacts()),
            ("lead", generator.leads()),
        ):
            _copy_rows(connection, table, _columns(table), batches)
        connection.execute(MODEL.replace(":at", "%(at)s"), {"at": stamp})
        scores = _scores(generator.sizes.leads, random.Random(seed), 1, stamp)
        _copy_rows(connection, "lead_score", SCORE_COLUMNS, scores)
        for _, sql in indexes:
            connection.execute(sql)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")


def _copy_rows(
    connection: psycopg.Connection[Any],
    table: str,
    columns: list[str],
    batches: Iterator[list[tuple[Any, ...]]],
) -> None:
    with connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for rows in batches:
            for row in rows:
                copy.write_row(row)


# -- the searches -----------------------------------------------------------------------------

Params = dict[str, Any]


def _kinds(
    generator: rescore.Generator, model: int
) -> dict[str, Callable[[random.Random], Params]]:
    leads, contacts = generator.sizes.leads, generator.sizes.contacts
    start, end = generator.start, generator.now

    def band(chance: random.Random) -> Params:
        low = chance.randrange(0, 100)
        return {"model": model, "score_min": low, "score_max": low + 1, "sort": "-score"}

    def day(chance: random.Random) -> Params:
        after = dt.datetime.fromtimestamp(chance.randrange(start, end - DAY), dt.UTC)
        before = after + dt.timedelta(days=1)
        return {"created_after": after.isoformat(), "created_before": before.isoformat(),
                "sort": "created"}  # fmt: skip

    def rare(chance: random.Random) -> Params:
        return {"q": f"{chance.choice(rescore.LAST).lower()}.{chance.randrange(1, contacts)}@"}

    return {
        "contains, common": lambda chance: {"q": chance.choice(rescore.LAST).lower()},
        "contains, rare": rare,
        "prefix": lambda chance: {"q": f"lead{chance.randrange(100, min(10_000, leads))}*"},
        "score range + sort": band,
        "created range": day,
    }


async def _time(connection: Connection, headers: bytes, path: str, tally: Tally) -> int:
    """One timed GET; the items it returned."""
    begun = time.perf_counter_ns()
    answer = await connection.request("GET", path, headers)
    tally.latencies_ns.append(time.perf_counter_ns() - begun)
    if answer.status != 200:
        tally.errors += 1
        tally.error_samples.append(f"{path}: {answer.status} {answer.body[:200]!r}")
        return 0
    items = answer.json().get("items")
    return len(items) if items is not None else 1


async def _searches(
    server: Server, secret: str, model: int, generator: rescore.Generator, args: argparse.Namespace
) -> tuple[dict[str, Tally], Tally, int]:
    """Rounds of one search of each kind and one read by id, so that whatever else loads the
    machine meanwhile weighs on all alike; a first round warms the caches, untimed."""
    chance = random.Random(args.seed)
    headers = f"Authorization: Bearer {secret}\r\n".encode()
    kinds = _kinds(generator, model)
    tallies = {name: Tally() for name in kinds}
    baseline, warming = Tally(), Tally()
    matched = 0
    async with open_connections(server.host, server.port, 1) as [connection]:
        for round_number in range(args.queries + 1):
            for name, make in kinds.items():
                path = f"/api/leads?{urlencode({**make(chance), 'limit': 50})}"
                items = await _time(
                    connection, headers, path, tallies[name] if round_number else warming
                )
                matched += items if round_number else 0
            lead_id = chance.randrange(1, generator.sizes.leads + 1)
            await _time(
                connection, headers, f"/api/leads/{lead_id}", baseline if round_number else warming
            )
    return tallies, baseline, matched


def _report(
    args: argparse.Namespace, tallies: dict[str, Tally], baseline: Tally, matched: int
) -> int:
    for name, tally in [*tallies.items(), ("baseline: GET a lead by id", baseline)]:
        p50, p95, p99 = (tally.percentile_ms(p) for p in (50, 95, 99))
        print(f"{name:26} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  p99 {p99:7.2f} ms")
    every = Tally.merged(list(tallies.values()))
    errors = every.errors + baseline.errors
    for sample in every.error_samples[:5] + baseline.error_samples[:5]:
        print(f"error: {sample}")
    p95 = every.percentile_ms(95)
    worst = max(t.percentile_ms(95) for t in tallies.values())
    print(f"all searches p95 {p95:.2f} ms; worst kind p95 {worst:.2f} ms (target < {TARGET_MS:g})")
    print_result(
        NAME,
        p95,
        "ms",
        baseline.percentile_ms(95),
        leads=args.leads,
        queries=every.requests,
        items_returned=matched,
        errors=errors,
        database="postgresql" if args.database_url else "sqlite",
        by_kind={
            name: {f"p{p}": round(t.percentile_ms(p), 3) for p in (50, 95, 99)}
            for name, t in tallies.items()
        },
        target=TARGET_MS,
        passed=errors == 0 and worst < TARGET_MS,
    )
    return 1 if errors else 0
