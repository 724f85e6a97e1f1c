"""score-latency: from POST /api/interactions to the lead's new score and stage, through the API.

The real `leadflow serve` runs on a fresh database (on SQLite, with background data generated
first: leads, contacts, accounts and interactions as bench/rescore.py makes them). A scoring
model with a sales-ready score goes live through the API (POST /api/scoring-models, then
POST /api/scoring-models/{id}/go-live with If-Match, following /api/evaluations/{id}). Contacts
are created through the API, one lead each. The service scores a lead as soon as it creates or
imports it, so the leads are written straight to the database, never scored: each lead's first
interaction gives it its first score, and lead_scored moves it from Inquiry to Automated
marketing qualification. Some leads go on to reach the sales-ready score, which moves them to
Sales acceptance.

Interactions are posted one at a time (one per request, credited to the lead or to its contact
alone), on one connection, each sent when the answer to the one before has come back. The POST
answers after the transaction that stored the interaction has re-scored the lead and fired
its outcomes, so its latency is the time until the new score and stage are visible. That is
checked, outside the timed requests, on a sample (every interaction that should move the lead,
and every tenth other one): GET /api/leads/{id}/scores must show the score the one-lead
evaluator (scoring.explain) gives, and GET /api/leads/{id} the stage that follows from it.

The baseline is the latency of GET /health on the same server, measured the same way in the
same run, in rounds alternating with the interactions. The phases run twice: quiet, then with
background load (other connections posting batches of interactions for other leads).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from api.storage.db import Database
from bench.client import Answer, Connection, open_connections
from bench.database import bench_database, prepare
from bench.load import Tally, run_async
from bench.report import print_result
from bench.server import Server, running_server
from leads.models import Lead
from scoring.definition import ScoringDefinition
from scoring.explain import Occurrence, evaluate

NAME = "score-latency"
DESCRIPTION = "ms from POST /api/interactions to the lead's new score and stage, against /health"
TARGET_MS = 50.0
JSON_CONTENT = b"Content-Type: application/json\r\n"
EVALUATION_SECONDS = 600.0
DAY = 86400
INQUIRY = "inquiry"
QUALIFICATION = "automated_marketing_qualification"
SALES = "sales_acceptance"
PROCESS = "lead_to_opportunity"
ERROR_SAMPLES = 5

MODEL_NAME = "engagement"
MODEL: dict[str, Any] = {
    "rules": [
        {"type": "behaviour", "name": "opens", "kind": "email_open", "points": 2,
         "window_days": 30, "cap": 10},
        {"type": "behaviour", "name": "clicks", "kind": "email_click", "points": 5,
         "window_days": 30, "cap": 20},
        {"type": "behaviour", "name": "pricing", "kind": "page_visit",
         "target": {"starts_with": "/pricing"}, "points": 10, "window_days": 30, "cap": 30},
        {"type": "behaviour", "name": "demo request", "kind": "form_submit",
         "target": {"equals": "demo-request"}, "count": "at_least", "times": 1, "points": 30},
        {"type": "behaviour", "name": "reading", "kind": "page_visit",
         "target": {"starts_with": "/blog"}, "points": 1, "half_life_days": 7, "cap": 5},
        {"type": "attribute", "name": "director",
         "when": {"field": "contact.job_title", "op": "contains", "value": "director"},
         "points": 10},
    ],
    "grades": [{"name": "A", "min": 50}, {"name": "B", "min": 20, "max": 50},
               {"name": "C", "max": 20}],
    "sales_ready_score": 50,
}  # fmt: skip
DEFINITION = ScoringDefinition.model_validate(MODEL)

# What a lead does, in order: (kind, target, properties). Hot leads reach the sales-ready score
# with their fifth interaction; warm and cold ones never do.
OPEN = ("email_open", "nl-2026-11", {"campaign": "fall"})
CLICK = ("email_click", "nl-2026-11", {"campaign": "fall"})
PRICING = ("page_visit", "/pricing", {"device": "desktop"})
BLOG = ("page_visit", "/blog/scoring", {"device": "mobile"})
DEMO = ("form_submit", "demo-request", {"utm_source": "ads"})
JOURNEYS = {
    "hot": [OPEN, PRICING, CLICK, PRICING, DEMO, OPEN],
    "warm": [OPEN, BLOG, CLICK, OPEN, PRICING, OPEN],
    "cold": [OPEN, OPEN, BLOG, OPEN, OPEN],
}
TITLES = ["Marketing director", "Analyst", "Engineer"]


class SetupFailed(RuntimeError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--leads",
        type=int,
        default=300,
        help="leads whose interactions are timed, per phase (default 300, about 1,700 posts)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="each phase alternates /health and interactions in this many rounds (default 4)",
    )
    parser.add_argument(
        "--background-leads",
        type=int,
        default=100_000,
        help="leads generated into the database before the server starts, with their contacts, "
        "accounts and 5 interactions each (SQLite only; default 100,000; 0 for none)",
    )
    parser.add_argument(
        "--load-connections",
        type=int,
        default=2,
        help="connections posting batches during the loaded phase (default 2; 0 skips it)",
    )
    parser.add_argument(
        "--load-batch",
        type=int,
        default=100,
        help="interactions per batch of the background load (default 100)",
    )
    parser.add_argument(
        "--load-pause",
        type=float,
        default=1.0,
        help="seconds each load connection waits between batches (default 1)",
    )
    parser.add_argument(
        "--verify-every",
        type=int,
        default=10,
        help="besides every post that should move its lead, verify every n-th (default 10)",
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server on loopback, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
        "postgres: a fresh database is created there and dropped at the end "
        "(default: SQLite in a temporary directory)",
    )


# -- the leads and what they do ------------------------------------------------------------------


@dataclass
class BenchLead:
    id: int
    contact_id: int
    job_title: str
    journey: str
    occurrences: list[Occurrence] = field(default_factory=list)
    stage: str = INQUIRY
    scored: bool = False

    def expect(self, occurrence: Occurrence) -> tuple[float, str, list[str]]:
        """Record the occurrence; return the score and stage it should lead to, and the
        moves on the way there."""
        self.occurrences.append(occurrence)
        records = {"lead": {}, "contact": {"job_title": self.job_title}, "account": None}
        # As of the occurrence: the server scores it within the same second or the next, and
        # the decay of the rules changes no cent in the minutes a phase takes.
        result = evaluate(DEFINITION, records, self.occurrences, occurrence.occurred_epoch + 1)
        assert result.score is not None
        moves = []
        if not self.scored:
            self.scored = True
            if self.stage == INQUIRY:
                self.stage = QUALIFICATION
                moves.append(QUALIFICATION)
        if result.reached and self.stage in (INQUIRY, QUALIFICATION):
            self.stage = SALES
            moves.append(SALES)
        return result.score, self.stage, moves


@dataclass(frozen=True)
class Step:
    lead: BenchLead
    kind: str
    target: str
    properties: dict[str, Any]
    to_lead: bool  # credited to the lead, else to its contact alone


@dataclass(frozen=True)
class Post:
    lead: BenchLead
    body: bytes
    score: float
    stage: str
    moves: list[str]


def plan_steps(leads: list[BenchLead], chance: random.Random) -> list[Step]:
    """Every lead's journey, interleaved at random, each lead's interactions in order; half
    credited to the lead, half to its contact alone."""
    order = [lead for lead in leads for _ in JOURNEYS[lead.journey]]
    chance.shuffle(order)
    done = dict.fromkeys((lead.id for lead in leads), 0)
    steps = []
    for lead in order:
        kind, target, properties = JOURNEYS[lead.journey][done[lead.id]]
        done[lead.id] += 1
        steps.append(Step(lead, kind, target, properties, chance.random() < 0.5))
    return steps


def make_post(step: Step, number: int) -> Post:
    """The request for the step, happening now, and what it should lead to."""
    # A second in the past: the server refuses interactions from the future.
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1)
    item: dict[str, Any] = {
        "kind": step.kind,
        "occurred_at": moment.isoformat(),
        "target": step.target,
        "properties": step.properties,
    }
    if step.to_lead:
        item["lead_id"] = step.lead.id
    else:
        item["contact_id"] = step.lead.contact_id
    occurrence = Occurrence(number, step.kind, int(moment.timestamp()), step.target,
                            step.properties)  # fmt: skip
    score, stage, moves = step.lead.expect(occurrence)
    return Post(step.lead, json.dumps({"interactions": [item]}).encode(), score, stage, moves)


# -- setup through the API ---------------------------------------------------------------------


def _check(answer: Answer, status: int, what: str) -> Any:
    if answer.status != status:
        raise SetupFailed(f"{what}: {answer.status} {answer.body[:300]!r}")
    return answer.json()


async def go_live(connection: Connection, auth: bytes) -> int:
    """Create the model and make it live; wait for its evaluation. Return the model's id."""
    body = json.dumps({"name": MODEL_NAME, "definition": MODEL}).encode()
    answer = await connection.request("POST", "/api/scoring-models", auth + JSON_CONTENT, body)
    model = _check(answer, 201, "create the scoring model")
    answer = await connection.request(
        "POST",
        f"/api/scoring-models/{model['id']}/go-live",
        auth + f"If-Match: {answer.etag}\r\n".encode(),
    )
    run = _check(answer, 202, "make the model live")["evaluation"]
    deadline = time.monotonic() + EVALUATION_SECONDS
    while time.monotonic() < deadline:
        answer = await connection.request("GET", f"/api/evaluations/{run['id']}", auth)
        run = _check(answer, 200, "follow the evaluation")
        if run["status"] == "done":
            print(
                f"model {model['id']} live; its evaluation scored {run['done']:,} leads",
                flush=True,
            )
            return int(model["id"])
        if run["status"] == "failed":
            raise SetupFailed(f"the go-live evaluation failed: {run.get('error')}")
        await asyncio.sleep(0.2)
    raise SetupFailed("the go-live evaluation did not finish in time")


async def make_leads(
    connection: Connection,
    auth: bytes,
    url: str,
    count: int,
    tag: str,
    chance: random.Random,
) -> list[BenchLead]:
    """`count` contacts created through the API, and a lead for each written straight to the
    database, so that no score was given to it yet (the service scores a lead it creates or
    imports at once)."""
    contacts: list[tuple[int, str]] = []
    for number in range(count):
        title = TITLES[number % len(TITLES)]
        body = json.dumps(
            {
                "email": f"{tag}.{number}@latency.example",
                "first_name": "Bench",
                "job_title": title,
                "attributes": {"source": "bench"},
            }
        ).encode()
        answer = await connection.request("POST", "/api/contacts", auth + JSON_CONTENT, body)
        contacts.append((_check(answer, 201, "create a contact")["id"], title))
    db = Database(url)
    try:
        with db.write() as session:
            rows = [
                Lead(
                    topic=f"Bench {tag} {number}",
                    email=f"{tag}.lead{number}@latency.example",
                    parent_contact_id=contact,
                    owner=tag,
                    process=PROCESS,
                    stage=INQUIRY,
                )
                for number, (contact, _) in enumerate(contacts)
            ]
            session.add_all(rows)
            session.flush()
            ids = [row.id for row in rows]
    finally:
        db.dispose()
    leads = []
    for lead_id, (contact, title) in zip(ids, contacts, strict=True):
        assert lead_id is not None
        leads.append(BenchLead(lead_id, contact, title, chance.choice(["hot", "warm", "cold"])))
    for lead in leads[:3]:
        answer = await connection.request("GET", f"/api/leads/{lead.id}", auth)
        if _check(answer, 200, "read a lead")["stage"] != INQUIRY:
            raise SetupFailed(f"lead {lead.id} does not start in {INQUIRY}")
    return leads


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Phase:
    posts: Tally = field(default_factory=Tally)
    bare: Tally = field(default_factory=Tally)
    verified: int = 0
    moves: dict[str, int] = field(default_factory=dict)
    load_batches: int = 0
    load_interactions: int = 0
    load_seconds: float = 0.0

    def error(self, text: str) -> None:
        self.posts.errors += 1
        if len(self.posts.error_samples) < ERROR_SAMPLES:
            self.posts.error_samples.append(text)


async def verify(connection: Connection, auth: bytes, post: Post, phase: Phase) -> None:
    lead = post.lead
    answer = await connection.request("GET", f"/api/leads/{lead.id}/scores", auth)
    scores = {s["model"]: s for s in answer.json()} if answer.status == 200 else {}
    found = scores.get(MODEL_NAME, {}).get("score")
    if found != post.score:
        phase.error(f"lead {lead.id}: score {found} after the POST, expected {post.score}")
    answer = await connection.request("GET", f"/api/leads/{lead.id}", auth)
    stage = answer.json().get("stage") if answer.status == 200 else None
    if stage != post.stage:
        phase.error(f"lead {lead.id}: stage {stage} after the POST, expected {post.stage}")
    phase.verified += 1


async def timed(connection: Connection, method: str, path: str, headers: bytes,
                body: bytes | None, tally: Tally) -> Answer:  # fmt: skip
    started = time.perf_counter_ns()
    answer = await connection.request(method, path, headers, body)
    tally.latencies_ns.append(time.perf_counter_ns() - started)
    return answer


async def measure(
    server: Server, auth: bytes, steps: list[Step], rounds: int, verify_every: int, phase: Phase
) -> None:
    """Alternate /health and interactions, one request at a time, in `rounds` rounds."""
    headers = auth + JSON_CONTENT
    size = -(-len(steps) // rounds)
    for number in range(rounds):
        part = steps[number * size : (number + 1) * size]
        if not part:
            break
        async with open_connections(server.host, server.port, 1) as (connection,):
            cpu = server.cpu_seconds()
            started = time.perf_counter()
            for _ in part:
                answer = await timed(connection, "GET", "/health", b"", None, phase.bare)
                if answer.status != 200:
                    phase.bare.errors += 1
            phase.bare.seconds += time.perf_counter() - started
            after = server.cpu_seconds()
            if cpu is not None and after is not None:
                phase.bare.server_cpu_seconds = (phase.bare.server_cpu_seconds or 0) + after - cpu
        async with open_connections(server.host, server.port, 1) as (connection,):
            for index, step in enumerate(part, start=number * size):
                post = make_post(step, index)
                answer = await timed(
                    connection, "POST", "/api/interactions", headers, post.body, phase.posts
                )
                if answer.status != 201:
                    phase.error(f"POST /api/interactions: {answer.status} {answer.body[:300]!r}")
                    continue
                for move in post.moves:
                    phase.moves[move] = phase.moves.get(move, 0) + 1
                if post.moves or index % verify_every == 0:
                    await verify(connection, auth, post, phase)


async def background_load(
    server: Server,
    auth: bytes,
    targets: list[tuple[int, int]],
    batch: int,
    pause: float,
    stop: asyncio.Event,
    phase: Phase,
    seed: int,
) -> None:
    """Post batches of interactions for the load's own leads until told to stop."""
    chance = random.Random(seed)
    headers = auth + JSON_CONTENT
    async with open_connections(server.host, server.port, 1) as (connection,):
        while not stop.is_set():
            now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            items = []
            for _ in range(batch):
                contact, lead = chance.choice(targets)
                kind, target, properties = chance.choice([OPEN, CLICK, PRICING, BLOG])
                item: dict[str, Any] = {
                    "kind": kind,
                    "occurred_at": now.isoformat(),
                    "target": target,
                    "properties": properties,
                }
                if chance.random() < 0.5:
                    item["lead_id"] = lead
                else:
                    item["contact_id"] = contact
                items.append(item)
            body = json.dumps({"interactions": items}).encode()
            answer = await connection.request("POST", "/api/interactions", headers, body)
            if answer.status != 201:
                phase.error(f"background batch: {answer.status} {answer.body[:300]!r}")
            else:
                phase.load_batches += 1
                phase.load_interactions += batch
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)


async def load_targets(connection: Connection, auth: bytes, count: int) -> list[tuple[int, int]]:
    """(contact, lead) pairs created through the API for the background load to post to."""
    targets = []
    for number in range(count):
        body = json.dumps({"email": f"load.{number}@latency.example"}).encode()
        answer = await connection.request("POST", "/api/contacts", auth + JSON_CONTENT, body)
        contact = _check(answer, 201, "create a load contact")["id"]
        body = json.dumps({"topic": f"load {number}", "parent_contact_id": contact}).encode()
        answer = await connection.request("POST", "/api/leads", auth + JSON_CONTENT, body)
        targets.append((contact, _check(answer, 201, "create a load lead")["id"]))
    return targets


async def scenario(
    server: Server, url: str, key: str, args: argparse.Namespace
) -> dict[str, Phase]:
    auth = f"Authorization: Bearer {key}\r\n".encode()
    chance = random.Random(args.seed)
    phases = {"quiet": Phase()}
    if args.load_connections > 0:
        phases["loaded"] = Phase()
    async with open_connections(server.host, server.port, 1) as (connection,):
        await go_live(connection, auth)
        leads = {
            name: await make_leads(connection, auth, url, args.leads, f"latency-{name}", chance)
            for name in phases
        }
        targets = await load_targets(connection, auth, 200) if "loaded" in phases else []
    print(f"{args.leads} leads per phase, all in {INQUIRY}, never scored", flush=True)
    # Warm up both endpoints on leads of their own, unmeasured.
    warm = Phase()
    async with open_connections(server.host, server.port, 1) as (connection,):
        spare = await make_leads(connection, auth, url, 20, "latency-warmup", chance)
    await measure(server, auth, plan_steps(spare, chance), 1, args.verify_every, warm)
    if warm.posts.errors:
        raise SetupFailed(f"warm-up: {warm.posts.error_samples}")
    for name, phase in phases.items():
        steps = plan_steps(leads[name], chance)
        stop = asyncio.Event()
        load = [
            asyncio.create_task(
                background_load(
                    server,
                    auth,
                    targets,
                    args.load_batch,
                    args.load_pause,
                    stop,
                    phase,
                    args.seed + number,
                )
            )
            for number in range(args.load_connections if name == "loaded" else 0)
        ]
        started = time.perf_counter()
        try:
            await measure(server, auth, steps, args.rounds, args.verify_every, phase)
        finally:
            stop.set()
            await asyncio.gather(*load)
        phase.load_seconds = time.perf_counter() - started
        print(f"{name:<7} posts  {_line(phase.posts)}", flush=True)
        print(f"{name:<7} health {_line(phase.bare)}", flush=True)
        if phase.load_batches:
            print(
                f"{name:<7} load   {phase.load_batches:,} batches of {args.load_batch} "
                f"({phase.load_interactions / phase.load_seconds:,.0f} interactions/s) on "
                f"{args.load_connections} connections",
                flush=True,
            )
    return phases


def _line(tally: Tally) -> str:
    text = (
        f"{tally.requests:6,} requests  p50 {tally.percentile_ms(50):7.2f} ms  "
        f"p95 {tally.percentile_ms(95):7.2f} ms  p99 {tally.percentile_ms(99):7.2f} ms"
    )
    if tally.errors:
        text += f"  ERRORS {tally.errors}"
    return text


def generate_background(url: str, leads: int, seed: int) -> None:
    from bench import rescore

    path = Path(make_url(url).database or "")
    now = int(time.time()) - 60
    generator = rescore.Generator(leads, 5.0, seed, now - rescore.HISTORY_DAYS * DAY, now)
    started = time.perf_counter()
    rescore.generate(path, generator)
    sizes = generator.sizes
    print(
        f"background data: {sizes.leads:,} leads, {sizes.contacts:,} contacts, "
        f"{sizes.accounts:,} accounts, {sizes.interactions:,} interactions "
        f"({time.perf_counter() - started:.0f} s)",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    if args.leads < 1 or args.rounds < 1 or args.verify_every < 1 or args.load_batch < 1:
        raise SystemExit("need --leads, --rounds, --verify-every and --load-batch >= 1")
    if args.database_url and args.background_leads:
        print("background data is generated on SQLite only: none on PostgreSQL", flush=True)
        args.background_leads = 0
    with (
        tempfile.TemporaryDirectory(prefix="leadflow-bench-") as workdir,
        bench_database(args.database_url, Path(workdir)) as url,
    ):
        database = make_url(url).get_backend_name()
        key = prepare(url)
        print(f"{NAME}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", flush=True)
        if args.background_leads:
            generate_background(url, args.background_leads, args.seed)
        with running_server(url, Path(workdir)) as server:
            print(f"leadflow serve on {server.host}:{server.port}", flush=True)
            phases = run_async(scenario(server, url, key, args))
    quiet = phases["quiet"]
    errors = sum(p.posts.errors + p.bare.errors for p in phases.values())
    for phase in phases.values():
        for sample in phase.posts.error_samples:
            print(f"error: {sample}")
    for name, phase in phases.items():
        print(
            f"{name}: {phase.verified} posts verified; moves verified: "
            + ", ".join(f"{count} to {stage}" for stage, count in sorted(phase.moves.items()))
        )
    p95 = quiet.posts.percentile_ms(95)
    print(f"p95 {p95:.2f} ms (target < {TARGET_MS:g} ms)")
    extra: dict[str, Any] = {}
    if "loaded" in phases:
        loaded = phases["loaded"]
        extra = {
            "loaded_p50_ms": round(loaded.posts.percentile_ms(50), 3),
            "loaded_p95_ms": round(loaded.posts.percentile_ms(95), 3),
            "loaded_p99_ms": round(loaded.posts.percentile_ms(99), 3),
            "loaded_baseline_p95_ms": round(loaded.bare.percentile_ms(95), 3),
            "loaded_interactions_per_s": round(loaded.load_interactions / loaded.load_seconds),
            "load_connections": args.load_connections,
            "load_batch": args.load_batch,
        }
    print_result(
        NAME,
        p95,
        "ms",
        quiet.bare.percentile_ms(95),
        target=TARGET_MS,
        passed=errors == 0 and p95 < TARGET_MS,
        errors=errors,
        p50_ms=round(quiet.posts.percentile_ms(50), 3),
        p99_ms=round(quiet.posts.percentile_ms(99), 3),
        baseline_p50_ms=round(quiet.bare.percentile_ms(50), 3),
        baseline_p99_ms=round(quiet.bare.percentile_ms(99), 3),
        posts=quiet.posts.requests,
        verified=quiet.verified,
        moves=quiet.moves,
        **extra,
        leads=args.leads,
        background_leads=args.background_leads,
        database=database,
        cores=os.cpu_count(),
    )
    return 1 if errors else 0
