"""Four API processes and two schedulers on one PostgreSQL database, with concurrent moves,
ingestion and re-evaluation: no update is lost, each scheduled tick is processed once and by
one scheduler at a time, and the final scores are those of a single clean evaluation."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from api.app import Service
from api.services import keys
from api.services.keys import Role
from api.storage.job_runs import EVALUATION, JobRun
from leads.models import Interaction, StageChange
from leads.types import utcnow
from scoring.tables import EvaluationRun
from tests.jobs.helpers import expected_scores, seed, stored_scores
from tests.patience import HTTP_SECONDS
from tests.processes import free_port, leadflow, wait_ready

API_PROCESSES = 4
SCHEDULERS = 2
TICK = 3  # seconds between evaluations
LOAD_SECONDS = 15
LEADS = 200
CONTENDED = 4  # leads every client moves at once
STAGES = ("teleprospecting_qualification", "inquiry")


def mover(
    bases: list[str],
    headers: dict[str, str],
    lead_ids: list[int],
    until: float,
    wins: dict[int, int],
    lock: threading.Lock,
) -> None:
    clients = [httpx.Client(base_url=b, headers=headers, timeout=HTTP_SECONDS) for b in bases]
    try:
        for client in itertools.cycle(clients):
            if time.monotonic() > until:
                return
            lead_id = random.choice(lead_ids)
            lead = client.get(f"/api/leads/{lead_id}").json()
            target = STAGES[0] if lead["stage"] != STAGES[0] else STAGES[1]
            moved = client.post(
                f"/api/leads/{lead_id}/stage",
                json={"to": target, "reason": "race"},
                headers={"If-Match": f'"{lead["version"]}"'},
            )
            assert moved.status_code in (200, 412), moved.text
            if moved.status_code == 200:
                with lock:
                    wins[lead_id] += 1
    finally:
        for client in clients:
            client.close()


def ingester(
    bases: list[str], headers: dict[str, str], until: float, prefix: str, sent: list[str]
) -> None:
    clients = [httpx.Client(base_url=b, headers=headers, timeout=HTTP_SECONDS) for b in bases]
    try:
        for n, client in enumerate(itertools.cycle(clients)):
            if time.monotonic() > until:
                return
            batch = [
                {
                    "kind": "email_open",
                    "occurred_at": (utcnow() - dt.timedelta(seconds=1)).isoformat(),
                    "lead_id": random.randint(1, LEADS),
                    "external_id": f"{prefix}-{n}-{i}",
                }
                for i in range(20)
            ]
            answer = client.post("/api/interactions", json={"interactions": batch})
            assert answer.status_code == 201, answer.text
            sent += [item["external_id"] for item in batch]
    finally:
        for client in clients:
            client.close()


@pytest.mark.slow
def test_four_api_processes_and_two_schedulers_share_one_database(
    service: Service, database_url: str, tmp_path: Path
) -> None:
    if service.db.is_sqlite:
        pytest.skip("several processes share PostgreSQL")
    seed(service.db, service.catalog, LEADS)
    with service.db.write() as session:
        _, secret = keys.create_key(session, Role.SERVICE, "load")
    headers = {"Authorization": f"Bearer {secret}"}
    common = {
        "LEADFLOW_DATABASE_URL": database_url,
        "LEADFLOW_STAGES_FILE": str(service.settings.stages_path()),
        "LEADFLOW_WORKER_THREADS": "2",
        "LEADFLOW_EVALUATION_INTERVAL": str(TICK),
        "LEADFLOW_STAGE_TIMEOUT_INTERVAL": str(TICK),
        "LEADFLOW_IDEMPOTENCY_EXPIRY_INTERVAL": str(TICK),
        "LEADFLOW_LEASE_SECONDS": "4",
        "LEADFLOW_HEARTBEAT_SECONDS": "1",
        "LEADFLOW_JOB_POLL_SECONDS": "0.5",
    }
    ports = [free_port() for _ in range(API_PROCESSES)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(
                leadflow(
                    "serve",
                    "--no-scheduler",
                    env={**common, "LEADFLOW_PORT": str(port)},
                    log=tmp_path / f"api-{port}.log",
                )
            )
            for port in ports
        ]
        schedulers = [
            stack.enter_context(
                leadflow("scheduler", env=common, log=tmp_path / f"scheduler-{i}.log")
            )
            for i in range(SCHEDULERS)
        ]
        for base, server in zip(bases, servers, strict=True):
            wait_ready(base, server, timeout=60)
        started = utcnow()
        until = time.monotonic() + LOAD_SECONDS
        wins = dict.fromkeys(range(1, CONTENDED + 1), 0)
        lock = threading.Lock()
        sent: list[list[str]] = [[] for _ in range(2)]
        threads = [
            threading.Thread(target=mover, args=(bases, headers, list(wins), until, wins, lock))
            for _ in range(4)
        ] + [
            threading.Thread(target=ingester, args=(bases, headers, until, f"i{k}", sent[k]))
            for k in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ended = utcnow()
        # One more tick after the load: its evaluation sees everything.
        deadline = time.monotonic() + 60
        while True:
            with service.db.read() as session:
                last = session.exec(
                    select(JobRun)
                    .where(
                        col(JobRun.job) == EVALUATION,
                        col(JobRun.requested_at) > ended,
                        col(JobRun.status) == "done",
                    )
                    .order_by(col(JobRun.id))
                ).first()
            if last is not None:
                break
            assert time.monotonic() < deadline, "no evaluation after the load"
            time.sleep(0.2)
        assert all(p.poll() is None for p in servers + schedulers)

    with service.db.read() as session:
        # No lost update: each contended lead's history is one unbroken chain, and holds every
        # move a client was told succeeded.
        for lead_id, won in wins.items():
            history = session.exec(
                select(StageChange)
                .where(col(StageChange.lead_id) == lead_id)
                .order_by(col(StageChange.id))
            ).all()
            assert [h.actor for h in history].count("user") == won
            for before, after in itertools.pairwise(history):
                assert before.to_stage == after.from_stage
        assert sum(wins.values()) > 10
        stored = set(session.exec(select(Interaction.external_id)).all())
        assert stored >= set(sent[0]) | set(sent[1])
        assert len(sent[0]) + len(sent[1]) > 100

        # Each tick once, one at a time, none missed while schedulers ran.
        runs: list[Any] = session.exec(
            select(JobRun).where(col(JobRun.job) == EVALUATION).order_by(col(JobRun.slot))
        ).all()
    # A tick begun after the last one awaited may be cut off when the processes stop (it is
    # resumed by the next scheduler): the ticks up to that one are the ones that must be done.
    assert last.slot is not None
    ticks = [
        r for r in runs if r.slot is not None and started <= r.started_at and r.slot <= last.slot
    ]
    slots = [r.slot for r in ticks]
    assert len(slots) >= LOAD_SECONDS // TICK
    assert slots == list(range(slots[0], slots[0] + TICK * len(slots), TICK))
    spans = sorted((r.started_at, r.finished_at) for r in runs if r.finished_at is not None)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, "two evaluations overlapped"
    assert {r.status for r in ticks} == {"done"}
    assert len({r.holder for r in runs}) >= 1

    with service.db.read() as session:
        evaluation = session.get(EvaluationRun, last.evaluation_run_id)
        assert evaluation is not None
    assert stored_scores(service.db) == expected_scores(service.db, evaluation.as_of)
