"""A silent network partition: the database stops answering without resetting connections.
Requests, /ready included, get 503 with Retry-After within a few seconds instead of hanging,
and the service answers again by itself once the network does. On SQLite there is no
network between the service and its database, so this is PostgreSQL's alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from api.services import keys
from api.services.keys import Role
from api.storage.db import Database
from tests.jobs.test_unavailable import assert_unavailable
from tests.processes import free_port, leadflow, wait_ready
from tests.proxy import Proxy

# LEADFLOW_DATABASE_STATEMENT_SECONDS=2 and LEADFLOW_DATABASE_CONNECT_SECONDS=2 below: a
# pooled connection's check gives up after about 3 s, the new connection after 2 more.
BOUND = 8.0


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.slow
def test_a_silent_partition_answers_503_within_seconds_and_the_service_comes_back(
    database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no network to cut")
    real = make_url(database_url)
    proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
    proxy.open()
    through = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    db = Database(database_url)
    with db.write() as session:
        _, secret = keys.create_key(session, Role.ADMIN, "ops")
    db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "LEADFLOW_DATABASE_URL": through,
        "LEADFLOW_PORT": str(port),
        "LEADFLOW_DATABASE_WAIT_SECONDS": "2",
        "LEADFLOW_DATABASE_STATEMENT_SECONDS": "2",
        "LEADFLOW_DATABASE_CONNECT_SECONDS": "2",
        "LEADFLOW_KEY_CACHE_SECONDS": "0",
        "LEADFLOW_JOB_POLL_SECONDS": "0.5",
        "LEADFLOW_LEASE_SECONDS": "2",
        "LEADFLOW_HEARTBEAT_SECONDS": "0.5",
    }
    headers = {"Authorization": f"Bearer {secret}"}
    try:
        with leadflow("serve", env=env, log=tmp_path / "serve.log") as server:
            wait_ready(base, server)
            # Well past the bound, so that a request that hangs fails here rather than
            # waiting for the network to come back.
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                # Fill the pool with several connections, each of which the partition holds.
                with ThreadPoolExecutor(4) as pool:
                    created = list(
                        pool.map(
                            lambda n: client.post("/api/leads", json={"topic": f"before {n}"}),
                            range(4),
                        )
                    )
                assert [r.status_code for r in created] == [201] * 4
                proxy.hold()
                with ThreadPoolExecutor(3) as pool:
                    during = [
                        pool.submit(timed, call)
                        for call in (
                            lambda: client.post("/api/leads", json={"topic": "away"}),
                            lambda: client.get("/api/leads"),
                            lambda: client.get("/ready"),
                        )
                    ]
                    answers = [future.result() for future in during]
                for response, seconds in answers[:2]:
                    assert_unavailable(response)
                    assert seconds < BOUND, f"{response.request.url} took {seconds:.1f} s"
                ready, seconds = answers[2]
                assert (ready.status_code, ready.headers["retry-after"]) == (503, "5")
                assert seconds < BOUND, f"/ready took {seconds:.1f} s"
                # Still partitioned: the next ones are bounded too, not only the first.
                for call in (lambda: client.get("/ready"), lambda: client.get("/api/leads")):
                    response, seconds = timed(call)
                    assert response.status_code == 503
                    assert seconds < BOUND, f"{response.request.url} took {seconds:.1f} s"
                assert server.poll() is None
                proxy.forward()
                deadline = time.monotonic() + 30
                while client.get("/ready").status_code != 200:
                    assert time.monotonic() < deadline, "service did not come back"
                    time.sleep(0.2)
                assert client.post("/api/leads", json={"topic": "after"}).status_code == 201
                topics = {lead["topic"] for lead in client.get("/api/leads").json()["items"]}
                assert topics == {"before 0", "before 1", "before 2", "before 3", "after"}
            assert server.poll() is None
    finally:
        proxy.close()
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log[-3000:]
