"""Rate limits: a budget per API key, a smaller one per client address for requests without a
valid key, the RateLimit headers on every /api answer, and client addresses behind a proxy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from pydantic import ValidationError

import bpf
from api.app import create_app, open_service
from api.services import keys
from api.settings import Settings
from tests.patience import HTTP_SECONDS, START_SECONDS

Client = TestClient  # type: ignore[type-arg]
Limited = Callable[..., AbstractContextManager[tuple[Client, Callable[[keys.Role], Any]]]]


@pytest.fixture
def limited(settings: Settings) -> Limited:
    """A client of a service with these settings, and a maker of key headers for it."""

    @contextmanager
    def start(**changes: Any) -> Iterator[tuple[Client, Callable[[keys.Role], Any]]]:
        service = open_service(Settings(**{**settings.model_dump(), **changes}))

        def key(role: keys.Role = keys.Role.MARKETER) -> dict[str, str]:
            with service.db.write() as session:
                _, secret = keys.create_key(session, role, f"{role.value} tester")
            return {"Authorization": f"Bearer {secret}"}

        try:
            with TestClient(create_app(service)) as client:
                yield client, key
        finally:
            service.db.dispose()

    return start


def _window(headers: Any) -> tuple[int, int, int]:
    return (
        int(headers["ratelimit-limit"]),
        int(headers["ratelimit-remaining"]),
        int(headers["ratelimit-reset"]),
    )


def test_a_key_over_its_limit_gets_429_with_retry_after_and_nothing_is_done(
    limited: Limited,
) -> None:
    with limited(rate_limit="3/minute") as (client, key):
        headers = key(keys.Role.MARKETER)
        for remaining in (2, 1, 0):
            made = client.post("/api/leads", json={"topic": "t"}, headers=headers)
            assert made.status_code == 201
            limit, left, reset = _window(made.headers)
            assert (limit, left) == (3, remaining)
            assert 0 <= reset <= 60
            assert made.headers["ratelimit-policy"] == "3;w=60"
        refused = client.post("/api/leads", json={"topic": "one too many"}, headers=headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert _window(refused.headers)[:2] == (3, 0)
        body = refused.json()
        assert body["type"] == "urn:leadflow:problem:too-many-requests"
        assert body["detail"].startswith("this API key may make 3 requests in 60 s; retry in")
        leads = client.get("/api/leads", headers=key(keys.Role.MARKETER)).json()
        assert [lead["topic"] for lead in leads["items"]] == ["t", "t", "t"]


def test_every_api_answer_carries_the_headers_errors_too(limited: Limited) -> None:
    with limited(rate_limit="10/minute") as (client, key):
        headers = key(keys.Role.MARKETER)
        missing = client.get("/api/leads/999999", headers=headers)
        assert missing.status_code == 404
        assert _window(missing.headers)[:2] == (10, 9)
        forbidden = client.post("/api/processes/reload", headers=headers)
        assert forbidden.status_code == 403
        assert _window(forbidden.headers)[:2] == (10, 8)
        assert "ratelimit-limit" not in client.get("/health").headers


def test_each_key_has_its_own_budget(limited: Limited) -> None:
    with limited(rate_limit="2/minute") as (client, key):
        first, second = key(keys.Role.MARKETER), key(keys.Role.SERVICE)
        assert [client.get("/api/leads", headers=first).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert client.get("/api/leads", headers=second).status_code == 200
        assert client.get("/api/leads", headers=second).headers["ratelimit-remaining"] == "0"


def test_the_budget_comes_back_as_the_window_moves(limited: Limited) -> None:
    with limited(rate_limit="2/second") as (client, key):
        headers = key(keys.Role.MARKETER)
        assert client.get("/api/leads", headers=headers).status_code == 200
        assert client.get("/api/leads", headers=headers).status_code == 200
        refused = client.get("/api/leads", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        time.sleep(1.05)
        again = client.get("/api/leads", headers=headers)
        assert again.status_code == 200
        assert again.headers["ratelimit-remaining"] == "1"


def test_requests_without_a_valid_key_share_a_budget_per_address(limited: Limited) -> None:
    with limited(anonymous_rate_limit="3/minute") as (client, key):
        known = key(keys.Role.MARKETER)
        assert client.get("/api/leads", headers=known).status_code == 200
        fresh = key(keys.Role.MARKETER)
        answers = [
            client.get("/api/leads"),
            client.get("/api/leads", headers={"Authorization": "Bearer lf_guess-1"}),
            client.get("/api/leads", headers={"Authorization": "Basic x"}),
        ]
        assert [a.status_code for a in answers] == [401, 401, 401]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        guessed = client.get("/api/leads", headers={"Authorization": "Bearer lf_guess-2"})
        assert guessed.status_code == 429
        assert guessed.json()["detail"].startswith(
            "requests without a valid API key from testclient may make 3 requests in 60 s"
        )
        # A key not looked up before is refused like a guess until the budget comes back,
        # so guessing right cannot be told from guessing wrong; a key this process already
        # knows keeps its own budget.
        assert client.get("/api/leads", headers=fresh).status_code == 429
        assert client.get("/api/leads", headers=known).status_code == 200


def test_a_revoked_key_counts_as_no_key(limited: Limited) -> None:
    with limited(anonymous_rate_limit="1/minute", key_cache_seconds=0) as (client, key):
        headers = key(keys.Role.MARKETER)
        assert client.get("/api/leads", headers=headers).status_code == 200
        prefix = headers["Authorization"].removeprefix("Bearer ")[:12]
        with client.app.state.services.db.write() as session:
            keys.revoke_key(session, prefix)
        assert client.get("/api/leads", headers=headers).status_code == 401
        assert client.get("/api/leads", headers=headers).status_code == 429


def test_forwarded_for_from_an_untrusted_peer_changes_nothing(limited: Limited) -> None:
    # The test client's peer is "testclient", not a loopback address: not trusted by default.
    with limited(anonymous_rate_limit="2/minute") as (client, _):
        answers = [
            client.get("/api/leads", headers={"X-Forwarded-For": f"203.0.113.{n}"})
            for n in range(3)
        ]
        assert [a.status_code for a in answers] == [401, 401, 429]
        assert "from testclient" in answers[2].json()["detail"]


def test_through_a_trusted_proxy_each_forwarded_client_has_its_budget(limited: Limited) -> None:
    with limited(anonymous_rate_limit="2/minute", trusted_proxies="testclient") as (client, _):

        def ask(forwarded: str) -> int:
            headers = {"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"}
            return client.get("/api/leads", headers=headers).status_code

        assert [ask("203.0.113.7") for _ in range(3)] == [401, 401, 429]
        # The address is the proxy's right-most untrusted one: what the client wrote is ignored.
        assert ask("198.51.100.1, 203.0.113.8") == 401
        refused = client.get("/api/leads", headers={"X-Forwarded-For": "203.0.113.7"})
        assert "from 203.0.113.7 " in refused.json()["detail"]


def test_limits_can_be_turned_off(limited: Limited) -> None:
    with limited(rate_limit="off", anonymous_rate_limit="off") as (client, key):
        headers = key(keys.Role.MARKETER)
        answers = [client.get("/api/leads", headers=headers) for _ in range(5)]
        assert {a.status_code for a in answers} == {200}
        assert "ratelimit-limit" not in answers[0].headers
        assert "ratelimit-limit" not in client.get("/api/leads").headers


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"rate_limit": "1200/minit"}, "is not one rate limit"),
        ({"rate_limit": "5/second; 100/hour"}, "is not one rate limit"),
        ({"anonymous_rate_limit": "0/minute"}, "N at least 1"),
        ({"rate_limit_storage": "memcached://localhost"}, "is not a rate limit storage"),
    ],
)
def test_bad_limit_settings_are_refused_naming_the_reason(
    changes: dict[str, str], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason) as raised:
        Settings(**changes)  # type: ignore[arg-type]
    assert raised.value.errors()[0]["loc"] == (next(iter(changes)),)


REDIS = os.environ.get("LEADFLOW_TEST_REDIS_URL")


@pytest.mark.skipif(REDIS is None, reason="LEADFLOW_TEST_REDIS_URL names no redis server")
def test_processes_sharing_redis_share_each_budget(settings: Settings) -> None:
    # One database, two services (two processes, each with its own memory), one redis.
    shared = settings.model_copy(update={"rate_limit": "3/minute", "rate_limit_storage": REDIS})
    first, second = open_service(shared), open_service(shared)
    try:
        with first.db.write() as session:
            _, secret = keys.create_key(session, keys.Role.MARKETER, "shared")
        headers = {"Authorization": f"Bearer {secret}"}
        with TestClient(create_app(first)) as one, TestClient(create_app(second)) as two:
            assert one.get("/api/leads", headers=headers).status_code == 200
            assert two.get("/api/leads", headers=headers).status_code == 200
            assert one.get("/api/leads", headers=headers).headers["ratelimit-remaining"] == "0"
            assert two.get("/api/leads", headers=headers).status_code == 429
    finally:
        first.db.dispose()
        second.db.dispose()


def test_while_the_storage_is_away_requests_go_unlimited_with_one_warning(
    limited: Limited, caplog: pytest.LogCaptureFixture
) -> None:
    with limited(rate_limit="1/minute", rate_limit_storage="redis://127.0.0.1:1/0") as (
        client,
        key,
    ):
        headers = key(keys.Role.MARKETER)
        answers = [client.get("/api/leads", headers=headers) for _ in range(3)]
    assert {a.status_code for a in answers} == {200}
    assert "ratelimit-limit" not in answers[0].headers
    warnings = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("the rate limit storage is unavailable, requests go unlimited")


@pytest.mark.slow
@pytest.mark.parametrize(("trusted", "expected"), [("", [401, 429]), ("127.0.0.1", [401, 401])])
def test_leadflow_serve_reads_forwarded_headers_from_trusted_proxies_only(
    database_url: str, trusted: str, expected: list[int]
) -> None:
    """uvicorn's own proxy handling stays off: only LEADFLOW_TRUSTED_PROXIES decides."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "LEADFLOW_DATABASE_URL": database_url,
        "LEADFLOW_STAGES_FILE": str(bpf.bundled_stages_file()),
        "LEADFLOW_ANONYMOUS_RATE_LIMIT": "1/minute",
        "LEADFLOW_TRUSTED_PROXIES": trusted,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert server.poll() is None, "the server exited"
            try:
                if httpx.get(f"{base}/health", timeout=HTTP_SECONDS).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        answers = [
            httpx.get(
                f"{base}/api/leads",
                headers={"X-Forwarded-For": client},
                timeout=HTTP_SECONDS,
            ).status_code
            for client in ("203.0.113.1", "203.0.113.2")
        ]
        assert answers == expected
    finally:
        server.terminate()
        server.wait(timeout=10)
