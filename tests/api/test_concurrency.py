"""Eight clients move the same lead with the same ETag at once: exactly one wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from api.app import Service, create_app
from api.services.keys import Role
from tests.conftest import KeyMaker
from tests.patience import HTTP_SECONDS
from tests.server import serving

CLIENTS = 8
ROUNDS = 10


def race(clients: list[httpx.Client], lead_id: int, version: int, target: str) -> list[int]:
    """Send the same move from every client at the same instant; return the status codes."""
    barrier = threading.Barrier(len(clients))

    def attempt(client: httpx.Client) -> int:
        barrier.wait()
        response = client.post(
            f"/api/leads/{lead_id}/stage",
            json={"to": target, "reason": "race"},
            headers={"If-Match": f'"{version}"'},
        )
        return response.status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        return sorted(pool.map(attempt, clients))


def test_one_of_eight_concurrent_moves_wins(service: Service, auth: KeyMaker) -> None:
    headers = auth(Role.ADMIN)
    with (
        serving(create_app(service)) as base,
        httpx.Client(base_url=base, headers=headers, timeout=HTTP_SECONDS) as setup,
    ):
        lead = setup.post("/api/leads", json={"topic": "contended"}).json()
        clients = [
            httpx.Client(base_url=base, headers=headers, timeout=HTTP_SECONDS)
            for _ in range(CLIENTS)
        ]
        try:
            for round_ in range(ROUNDS):
                version = lead["version"]
                target = "teleprospecting_qualification" if round_ % 2 == 0 else "inquiry"
                codes = race(clients, lead["id"], version, target)
                assert codes == [200] + [412] * (CLIENTS - 1), codes
                lead = setup.get(f"/api/leads/{lead['id']}").json()
                assert lead["version"] == version + 1
                assert lead["stage"] == target
            history = setup.get(f"/api/leads/{lead['id']}/history?limit=100").json()["items"]
            assert len(history) == ROUNDS
        finally:
            for client in clients:
                client.close()
