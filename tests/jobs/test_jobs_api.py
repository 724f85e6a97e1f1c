"""/api/jobs: every job with its last and next run; a run now for admins, which whichever
scheduler holds the job's lease carries out, after the run in progress."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from api.app import Service, create_app
from api.services.keys import Role
from api.settings import Settings
from api.storage.idempotency_records import IdempotencyRecord
from api.storage.leases import Lease
from leads.types import utcnow
from tests.conftest import KeyMaker
from tests.jobs.helpers import run_job, seed, wait_run
from tests.patience import SETTLE_SECONDS


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"job_poll_seconds": 0.2, "lease_seconds": 2.0, "heartbeat_seconds": 0.5}
    )


@pytest.fixture
def admin(auth: KeyMaker) -> dict[str, str]:
    return auth(Role.ADMIN)


def test_the_jobs_are_listed_and_an_admin_runs_one_now(
    app_client: TestClient,
    service: Service,
    auth: KeyMaker,
    admin: dict[str, str],  # type: ignore[type-arg]
) -> None:
    seed(service.db, service.catalog, 30)
    reader = auth(Role.TELEPROSPECTOR)
    jobs = app_client.get("/api/jobs", headers=reader).json()
    assert [(j["name"], j["interval_seconds"]) for j in jobs] == [
        ("evaluation", 3600),
        ("stage_timeouts", 900),
        ("idempotency_expiry", 3600),
        ("webhook_redelivery", 60),
    ]
    assert all(j["last_run"] is None and not j["running"] and j["queued"] == 0 for j in jobs)
    assert all(
        abs(dt.datetime.fromisoformat(j["next_run_at"]) - utcnow()) < dt.timedelta(seconds=5)
        for j in jobs
    )  # due: this interval's run is not made (the clocks are off in tests)

    refused = app_client.post("/api/jobs/evaluation/run", headers=auth(Role.MARKETER))
    assert refused.status_code == 403
    unknown = app_client.post("/api/jobs/evaluatoin/run", headers=admin)
    assert unknown.status_code == 404
    assert "did you mean 'evaluation'?" in unknown.json()["detail"]

    run = run_job(app_client, "evaluation", admin)
    assert (run["status"], run["processed"], run["total"], run["resumed"]) == (
        "done",
        30,
        30,
        False,
    )
    assert run["requested_by"] == "admin tester"
    evaluation = app_client.get(f"/api/evaluations/{run['evaluation_id']}", headers=reader).json()
    assert (evaluation["status"], evaluation["done"]) == ("done", 30)
    job = app_client.get("/api/jobs/evaluation", headers=reader).json()
    assert job["last_run"]["id"] == run["id"]
    assert job["last_run"]["seconds"] >= 0
    assert job["failed_24h"] == 0
    history = app_client.get("/api/jobs/evaluation/runs", headers=reader).json()
    assert [r["id"] for r in history] == [run["id"]]
    assert app_client.get("/api/jobs/stage_timeouts/runs/999", headers=reader).status_code == 404


def test_a_run_asked_for_waits_while_another_holder_runs_the_job(
    app_client: TestClient,
    service: Service,
    auth: KeyMaker,
    admin: dict[str, str],  # type: ignore[type-arg]
) -> None:
    seed(service.db, service.catalog, 10)
    elsewhere = Lease.take(service.db, "evaluation", "other-host:1:abc", 30, 10)
    assert elsewhere is not None
    marketer = auth(Role.MARKETER)
    started = app_client.post("/api/evaluations", headers=marketer)
    assert started.status_code == 202
    asked = app_client.post("/api/jobs/evaluation/run", headers=admin)
    assert asked.status_code == 409  # the evaluation asked for is queued: it covers everything
    assert asked.json()["run_id"] is not None
    time.sleep(1.0)
    evaluation = app_client.get(started.headers["location"], headers=marketer).json()
    assert evaluation["status"] == "queued"
    job = app_client.get("/api/jobs/evaluation", headers=admin).json()
    assert (job["running"], job["queued"]) == (False, 1)

    elsewhere.release()  # the other holder is done: this process's scheduler takes its turn
    deadline = time.monotonic() + SETTLE_SECONDS
    while (job := app_client.get("/api/jobs/evaluation", headers=admin).json())["running"] or (
        job["queued"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert app_client.get(started.headers["location"], headers=marketer).json()["status"] == "done"
    assert (job["last_run"]["status"], job["last_run"]["processed"], job["queued"]) == (
        "done",
        10,
        0,
    )


def test_old_idempotency_keys_expire_and_recent_ones_still_replay(
    app_client: TestClient,
    service: Service,
    auth: KeyMaker,
    admin: dict[str, str],  # type: ignore[type-arg]
) -> None:
    headers = auth(Role.MARKETER)
    contact = app_client.post("/api/contacts", json={"email": "a@x.io"}, headers=headers).json()
    body = {
        "interactions": [
            {"kind": "email_open", "occurred_at": utcnow().isoformat(), "contact_id": contact["id"]}
        ]
    }
    for key in ("old-batch", "new-batch"):
        sent = app_client.post(
            "/api/interactions", json=body, headers={**headers, "Idempotency-Key": key}
        )
        assert sent.status_code == 201
    with service.db.write() as session:
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == "old-batch")  # type: ignore[arg-type]
            .values(created_at=utcnow() - dt.timedelta(hours=25))
        )
    assert run_job(app_client, "idempotency_expiry", admin)["processed"] == 1

    fresh = app_client.post(
        "/api/interactions", json=body, headers={**headers, "Idempotency-Key": "new-batch"}
    )
    assert fresh.headers.get("idempotent-replayed") == "true"
    expired = app_client.post(
        "/api/interactions", json=body, headers={**headers, "Idempotency-Key": "old-batch"}
    )
    assert expired.status_code == 201
    assert "idempotent-replayed" not in expired.headers  # a new request: stored again
    listed = app_client.get("/api/interactions", headers=headers).json()["items"]
    assert len(listed) == 3
    assert run_job(app_client, "idempotency_expiry", admin)["processed"] == 0


@pytest.fixture
def threads_before() -> Iterator[set[threading.Thread]]:
    before = set(threading.enumerate())
    yield before
    deadline = time.monotonic() + SETTLE_SECONDS
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(threading.enumerate()) - before == set()


def test_the_embedded_scheduler_runs_each_interval_and_stops_with_the_app(
    service: Service, auth: KeyMaker, threads_before: set[threading.Thread]
) -> None:
    service.settings = service.settings.model_copy(update={"periodic_jobs": True})
    admin = auth(Role.ADMIN)
    with TestClient(create_app(service)) as client:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            jobs = client.get("/api/jobs", headers=admin).json()
            if all(j["last_run"] and j["last_run"]["status"] == "done" for j in jobs):
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(0.1)
        for job in jobs:
            assert job["last_run"]["requested_by"] == "schedule"
            assert dt.datetime.fromisoformat(job["next_run_at"]) > utcnow()
        # A run asked for still comes on top of the schedule.
        wait_run(
            client,
            client.post("/api/jobs/stage_timeouts/run", headers=admin).headers["location"],
            admin,
        )
        assert len(client.get("/api/jobs/stage_timeouts/runs", headers=admin).json()) == 2
