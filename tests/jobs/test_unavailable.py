"""The database away or too busy: requests get 503 with Retry-After, /ready says not ready,
no process dies, and service comes back by itself when the database does."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from api.app import Service
from api.services import keys
from api.services.keys import Role
from api.settings import Settings
from api.storage.db import Database
from tests.conftest import KeyMaker
from tests.patience import HTTP_SECONDS, SETTLE_SECONDS
from tests.processes import free_port, leadflow, wait_ready
from tests.proxy import Proxy


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"database_wait_seconds": 0.5})


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:leadflow:problem:unavailable"


def test_sqlite_locked_or_busy_answers_503_then_recovers(
    app_client: TestClient,
    service: Service,
    auth: KeyMaker,  # type: ignore[type-arg]
) -> None:
    if not service.db.is_sqlite:
        pytest.skip("SQLite's write lock")
    headers = auth(Role.MARKETER)
    assert app_client.post("/api/leads", json={"topic": "a"}, headers=headers).status_code == 201

    # Another process holds SQLite's write lock longer than a request waits.
    other = sqlite3.connect(str(service.db.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert_unavailable(app_client.post("/api/leads", json={"topic": "b"}, headers=headers))
        assert app_client.get("/api/leads", headers=headers).status_code == 200  # reads go on
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert app_client.post("/api/leads", json={"topic": "c"}, headers=headers).status_code == 201

    # The service's one write connection is busy longer than a request waits for it.
    held = service.db.write_engine.connect()
    try:
        assert_unavailable(app_client.post("/api/leads", json={"topic": "d"}, headers=headers))
    finally:
        held.close()
    assert app_client.post("/api/leads", json={"topic": "e"}, headers=headers).status_code == 201
    topics = [
        lead["topic"] for lead in app_client.get("/api/leads", headers=headers).json()["items"]
    ]
    assert sorted(topics) == ["a", "c", "e"]


@pytest.mark.slow
def test_postgresql_unreachable_answers_503_and_the_server_recovers_by_itself(
    database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL behind a proxy")
    real = make_url(database_url)
    proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
    proxy.open()
    through = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    db = Database(database_url)
    with db.write() as session:
        _, secret = keys.create_key(session, Role.ADMIN, "ops")
    db.dispose()
    headers = {"Authorization": f"Bearer {secret}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "LEADFLOW_DATABASE_URL": through,
        "LEADFLOW_PORT": str(port),
        "LEADFLOW_DATABASE_WAIT_SECONDS": "2",
        "LEADFLOW_KEY_CACHE_SECONDS": "0",
        "LEADFLOW_JOB_POLL_SECONDS": "0.5",
        "LEADFLOW_LEASE_SECONDS": "2",
        "LEADFLOW_HEARTBEAT_SECONDS": "0.5",
        "LEADFLOW_STAGE_TIMEOUT_INTERVAL": "2",
    }
    try:
        with leadflow("serve", env=env, log=tmp_path / "serve.log") as server:
            wait_ready(base, server)
            with httpx.Client(base_url=base, headers=headers, timeout=HTTP_SECONDS) as client:
                assert client.post("/api/leads", json={"topic": "before"}).status_code == 201
                proxy.close()
                assert_unavailable(client.post("/api/leads", json={"topic": "away"}))
                assert_unavailable(client.get("/api/leads"))
                ready = client.get("/ready")
                assert (ready.status_code, ready.headers["retry-after"]) == (503, "5")
                time.sleep(4)  # the scheduler's polls and heartbeats fail meanwhile
                assert server.poll() is None
                proxy.open()
                deadline = time.monotonic() + SETTLE_SECONDS
                while client.get("/ready").status_code != 200:
                    assert time.monotonic() < deadline, "service did not come back"
                    time.sleep(0.2)
                assert client.post("/api/leads", json={"topic": "after"}).status_code == 201
                run = client.post("/api/jobs/stage_timeouts/run")
                assert run.status_code == 202
                while client.get(run.headers["location"]).json()["status"] != "done":
                    assert time.monotonic() < deadline, "the scheduler did not come back"
                    time.sleep(0.2)
                topics = {lead["topic"] for lead in client.get("/api/leads").json()["items"]}
                assert topics == {"before", "after"}
            assert server.poll() is None
    finally:
        proxy.close()
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log[-3000:]
