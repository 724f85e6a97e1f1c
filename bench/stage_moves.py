"""stage-moves: lead moves per second over HTTP, against a bare endpoint of the same server.

Each connection moves leads of its own between two stages, so moves never conflict, and sends
each move with the ETag the previous answer for that lead returned. The bare endpoint is
GET /health, which touches neither the database nor the authentication.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.client import Connection, open_connections
from bench.database import bench_database, prepare
from bench.load import Step, Tally, drive, run_async
from bench.report import print_result
from bench.server import Server, running_server

NAME = "stage-moves"
DESCRIPTION = "moves/s of POST /api/leads/{id}/stage against req/s of GET /health"
TARGET = 0.4
# Leads are created in the first stage and switched back and forth with the second.
STAGES = ("inquiry", "automated_marketing_qualification")
MOVE_BODIES = {stage: json.dumps({"to": stage, "reason": "bench"}).encode() for stage in STAGES}
JSON_CONTENT = b"Content-Type: application/json\r\n"
# The share of a core the client may use before it, not the server, may set the bare rate.
CLIENT_BUSY = 0.8


class SetupFailed(RuntimeError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per endpoint (default 10)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="the measured time is split into this many bare-then-moves rounds (default 2)",
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds per endpoint (default 2)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="connections, each with requests one after another (default 8)",
    )
    parser.add_argument(
        "--leads", type=int, default=200, help="leads, shared out between connections (default 200)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on loopback, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
        "postgres: a fresh database is created there and dropped at the end "
        "(default: SQLite in a temporary directory)",
    )


@dataclass
class BenchLead:
    id: int
    etag: str
    stage: str


class Mover:
    """Moves its leads in turn, each to the other stage, with the ETag of its last answer."""

    def __init__(self, connection: Connection, leads: list[BenchLead], auth: bytes) -> None:
        self._connection = connection
        self._leads = leads
        self._auth = auth
        self._headers = auth + JSON_CONTENT
        self._next = 0

    async def step(self) -> str | None:
        lead = self._leads[self._next]
        self._next = (self._next + 1) % len(self._leads)
        target = STAGES[1] if lead.stage == STAGES[0] else STAGES[0]
        answer = await self._connection.request(
            "POST",
            f"/api/leads/{lead.id}/stage",
            self._headers + f"If-Match: {lead.etag}\r\n".encode(),
            MOVE_BODIES[target],
        )
        if answer.status == 200 and answer.etag is not None:
            lead.etag, lead.stage = answer.etag, target
            return None
        await self._resync(lead)
        return f"move of lead {lead.id} to {target}: {answer.status} {answer.body[:300]!r}"

    async def _resync(self, lead: BenchLead) -> None:
        answer = await self._connection.request("GET", f"/api/leads/{lead.id}", self._auth)
        if answer.status != 200 or answer.etag is None:
            raise SetupFailed(f"cannot read lead {lead.id}: {answer.status} {answer.body[:300]!r}")
        lead.etag, lead.stage = answer.etag, answer.json()["stage"]


def health_step(connection: Connection) -> Step:
    async def step() -> str | None:
        answer = await connection.request("GET", "/health")
        return None if answer.status == 200 else f"/health: {answer.status} {answer.body[:300]!r}"

    return step


async def seed(server: Server, auth: bytes, leads: int, concurrency: int) -> list[list[BenchLead]]:
    """Create the leads through the API: one list for each connection to move."""

    async def create(connection: Connection, numbers: range) -> list[BenchLead]:
        created = []
        for number in numbers:
            body = json.dumps({"topic": f"bench lead {number}"}).encode()
            answer = await connection.request("POST", "/api/leads", auth + JSON_CONTENT, body)
            if answer.status != 201 or answer.etag is None:
                raise SetupFailed(f"cannot create a lead: {answer.status} {answer.body[:300]!r}")
            lead = answer.json()
            created.append(BenchLead(lead["id"], answer.etag, lead["stage"]))
        return created

    async with open_connections(server.host, server.port, concurrency) as connections:
        return list(
            await asyncio.gather(
                *(create(c, range(i, leads, concurrency)) for i, c in enumerate(connections))
            )
        )


async def phase(
    server: Server, count: int, make_step: Callable[[int, Connection], Step], seconds: float
) -> Tally:
    """Run, for `seconds`, one step for each of `count` new connections."""
    async with open_connections(server.host, server.port, count) as connections:
        steps = [make_step(i, connection) for i, connection in enumerate(connections)]
        return await drive(steps, seconds, server.cpu_seconds)


async def measure(server: Server, key: str, args: argparse.Namespace) -> tuple[Tally, Tally]:
    """The moves and the bare requests, each merged over the rounds."""
    auth = f"Authorization: Bearer {key}\r\n".encode()
    shares = await seed(server, auth, args.leads, args.concurrency)
    print(f"seeded {args.leads} leads; warming up {args.warmup:g} s per endpoint", flush=True)

    def move(i: int, connection: Connection) -> Step:
        return Mover(connection, shares[i], auth).step

    def bare(_: int, connection: Connection) -> Step:
        return health_step(connection)

    await phase(server, args.concurrency, bare, args.warmup)
    await phase(server, args.concurrency, move, args.warmup)
    bares: list[Tally] = []
    moves: list[Tally] = []
    seconds = args.seconds / args.rounds
    for number in range(1, args.rounds + 1):
        bares.append(await phase(server, args.concurrency, bare, seconds))
        print(f"round {number} bare   {bares[-1].summary()}", flush=True)
        moves.append(await phase(server, args.concurrency, move, seconds))
        print(f"round {number} moves  {moves[-1].summary()}", flush=True)
        print(f"round {number} ratio  {moves[-1].rate / bares[-1].rate:.1%}", flush=True)
    return Tally.merged(moves), Tally.merged(bares)


def run(args: argparse.Namespace) -> int:
    if args.seconds <= 0 or args.warmup < 0 or args.rounds < 1:
        raise SystemExit("need --seconds > 0, --warmup >= 0 and --rounds >= 1")
    if args.concurrency < 1 or args.leads < args.concurrency:
        raise SystemExit("need --concurrency >= 1 and --leads >= --concurrency")
    with (
        tempfile.TemporaryDirectory(prefix="leadflow-bench-") as workdir,
        bench_database(args.database_url, Path(workdir)) as url,
    ):
        database = make_url(url).get_backend_name()
        key = prepare(url)
        print(f"{NAME}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", flush=True)
        with running_server(url, Path(workdir)) as server:
            print(f"leadflow serve on {server.host}:{server.port}", flush=True)
            moves, bare = run_async(measure(server, key, args))
    print(f"moves  {moves.summary()}")
    print(f"bare   {bare.summary()}")
    if bare.client_cpu_seconds / bare.seconds > CLIENT_BUSY:
        print("warning: the client was busy most of the time; the bare rate may be its limit")
    errors = moves.errors + bare.errors
    for sample in moves.error_samples + bare.error_samples:
        print(f"error: {sample}")
    ratio = moves.rate / bare.rate if bare.rate else 0.0
    print(f"moves reach {ratio:.1%} of the bare rate (target {TARGET:.0%})")
    print_result(
        NAME,
        moves.rate,
        "moves/s",
        bare.rate,
        target=TARGET,
        passed=errors == 0 and ratio >= TARGET,
        errors=errors,
        p50_ms=round(moves.percentile_ms(50), 3),
        p95_ms=round(moves.percentile_ms(95), 3),
        baseline_p50_ms=round(bare.percentile_ms(50), 3),
        baseline_p95_ms=round(bare.percentile_ms(95), 3),
        server_cpu_us=_rounded(moves.server_cpu_us),
        baseline_server_cpu_us=_rounded(bare.server_cpu_us),
        moves=moves.requests,
        baseline_requests=bare.requests,
        seconds=args.seconds,
        concurrency=args.concurrency,
        leads=args.leads,
        database=database,
        cores=os.cpu_count(),
    )
    return 1 if errors else 0


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
