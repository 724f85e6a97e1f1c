"""The server is killed (SIGKILL) after changes committed and before their webhooks were
delivered: once it runs again, the receiver gets every event, each with the id it had."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from api.services import keys
from api.storage import migrate
from api.storage.db import Database
from tests.conftest import BUNDLED_STAGES
from tests.patience import HTTP_SECONDS, START_SECONDS
from tests.receiver import ALLOWED_TARGETS, Receiver, free_port, receiving

LEADS = 12


@pytest.fixture
def admin_key(database_url: str) -> str:
    db = Database(database_url)
    try:
        migrate.upgrade(db.write_engine)
        with db.write() as session:
            _, secret = keys.create_key(session, keys.Role.ADMIN, "restart tester")
    finally:
        db.dispose()
    return secret


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def _serve(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEADFLOW_DATABASE_URL": database_url,
        "LEADFLOW_STAGES_FILE": str(BUNDLED_STAGES),
        "LEADFLOW_WEBHOOK_POLL_SECONDS": "0.05",
        "LEADFLOW_WEBHOOK_BACKOFF_SECONDS": "0.1",
        "LEADFLOW_WEBHOOK_BACKOFF_MAX_SECONDS": "0.5",
        "LEADFLOW_WEBHOOK_MAX_ATTEMPTS": "50",
        "LEADFLOW_WEBHOOK_TIMEOUT_SECONDS": "1",
        "LEADFLOW_WEBHOOK_ALLOWED_TARGETS": ALLOWED_TARGETS,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=HTTP_SECONDS)
            if health.status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not answer")


def _make_changes(api: httpx.Client) -> None:
    for number in range(LEADS):
        created = api.post("/api/leads", json={"topic": f"lead {number}"})
        assert created.status_code == 201, created.text
        if number % 2 == 0:
            moved = api.post(
                f"/api/leads/{created.json()['id']}/stage",
                json={"to": "teleprospecting_qualification", "reason": "called"},
                headers={"If-Match": '"1"'},
            )
            assert moved.status_code == 200, moved.text


def _logged(api: httpx.Client, hook: dict[str, Any]) -> dict[str, str]:
    """Each message of the delivery log: its webhook-id and event type."""
    items = api.get(f"/api/webhooks/{hook['id']}/deliveries?limit=200").json()["items"]
    return {d["webhook_id"]: d["event_type"] for d in items}


@pytest.mark.slow
@pytest.mark.parametrize("receiver_state", ["down", "hanging"])
def test_every_event_arrives_with_its_id_after_the_server_is_killed(
    database_url: str, admin_key: str, servers: list[subprocess.Popen[bytes]], receiver_state: str
) -> None:
    port, hook_port = free_port(), free_port()
    inbox = Receiver()
    first = _serve(database_url, port)
    servers.append(first)
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=HTTP_SECONDS
    ) as api:
        hook = api.post(
            "/api/webhooks",
            json={
                "url": f"http://127.0.0.1:{hook_port}/hooks",
                "event_types": ["lead.created", "lead.stage_changed"],
            },
        ).json()
        if receiver_state == "down":
            # Nothing listens yet: every attempt fails, and the events wait.
            _make_changes(api)
            expected = _logged(api, hook)
            held: list[str] = []
        else:
            # The receiver takes the messages but never answers before the kill.
            inbox.hold.set()
            with receiving(inbox, hook_port):
                _make_changes(api)
                expected = _logged(api, hook)
                inbox.wait_for(lambda got: len(got) > 0)
                first.kill()
                first.wait(timeout=10)
                held = inbox.ids()
        assert len(expected) == LEADS + LEADS // 2
        assert set(expected.values()) == {"lead.created", "lead.stage_changed"}
    if first.poll() is None:
        first.kill()
        first.wait(timeout=10)
    before = len(inbox.received)

    with receiving(inbox, hook_port):
        servers.append(_serve(database_url, port))
        # A message held when the server died is sent again once its claim lapses.
        inbox.wait_for(lambda got: {r.id for r in got[before:]} == set(expected), seconds=60)
    arrived = inbox.received[before:]
    assert {r.id for r in arrived} == set(expected)
    for message in arrived:
        assert message.message["type"] == expected[message.id]
        Webhook(hook["secret"]).verify(message.body, message.headers)
    assert set(held) <= set(expected)
    if receiver_state == "hanging":
        assert held, "no message was in flight when the server was killed"
