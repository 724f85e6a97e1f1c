"""API keys: bearer tokens, roles, and what each role may do with leads and processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlmodel import select

from api.app import Service, create_app, open_service
from api.http.auth import KeyCache
from api.services.keys import Principal, Role, authenticate, create_key
from api.settings import Settings
from api.storage.api_keys import ApiKey
from tests.conftest import add_sellers


def test_api_routes_need_a_key(app_client: TestClient) -> None:  # type: ignore[type-arg]
    response = app_client.get("/api/leads")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    response = app_client.get("/api/leads", headers={"Authorization": "Bearer lf_not-a-key"})
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is unknown or revoked"
    assert app_client.get("/health").status_code == 200
    assert app_client.get("/ready").json() == {"status": "ok"}
    assert app_client.get("/schema/openapi.json").status_code == 200


@pytest.fixture
def uncached(settings: Settings) -> Iterator[tuple[TestClient, Service]]:  # type: ignore[type-arg]
    """A service that checks the key of every request in the database."""
    service = open_service(settings.model_copy(update={"key_cache_seconds": 0}))
    with TestClient(create_app(service)) as client:
        yield client, service
    service.db.dispose()


def test_keys_are_stored_hashed_and_revocation_takes_effect(
    uncached: tuple[TestClient, Service],  # type: ignore[type-arg]
) -> None:
    app_client, service = uncached
    with service.db.write() as session:
        _, secret = create_key(session, Role.MARKETER, "marketer tester")
    headers = {"Authorization": f"Bearer {secret}"}
    with service.db.read() as session:
        stored = session.exec(select(ApiKey).where(ApiKey.role == "marketer")).one()
    assert secret not in (stored.key_hash, stored.prefix)
    assert app_client.get("/api/leads", headers=headers).status_code == 200
    with service.db.write() as session:
        stored = session.get(ApiKey, stored.id)
        assert stored is not None
        from leads.types import utcnow

        stored.revoked_at = utcnow()
        session.add(stored)
    with service.db.read() as session:
        assert authenticate(session, secret) is None
    assert app_client.get("/api/leads", headers=headers).status_code == 401


def test_a_process_trusts_a_checked_key_for_a_few_seconds_only() -> None:
    now = [100.0]
    cache = KeyCache(5, clock=lambda: now[0])
    principal = Principal(key_id=1, name="k", role=Role.MARKETER)
    cache.put("digest", principal)
    assert cache.get("digest") == principal
    now[0] += 4.9
    assert cache.get("digest") == principal
    now[0] += 0.2
    assert cache.get("digest") is None
    KeyCache(0).put("digest", principal)
    assert KeyCache(0).get("digest") is None


def test_every_role_reads_and_moves_but_only_admins_reload(
    app_client: TestClient,  # type: ignore[type-arg]
    service: Service,
) -> None:
    add_sellers(service, *(role.value for role in Role))
    for role in Role:
        # Each key acts for a seller who owns the lead, so those who work leads see it.
        with service.db.write() as session:
            _, secret = create_key(session, role, f"{role.value} mover", seller=role.value)
        headers = {"Authorization": f"Bearer {secret}"}
        created = app_client.post(
            "/api/leads", json={"topic": role.value, "owner": role.value}, headers=headers
        )
        assert created.status_code == 201, (role, created.text)
        lead = created.json()
        moved = app_client.post(
            f"/api/leads/{lead['id']}/stage",
            json={"action": "next"},
            headers={**headers, "If-Match": '"1"'},
        )
        assert moved.status_code == 200
        assert app_client.get("/api/processes", headers=headers).status_code == 200
        reload = app_client.post("/api/processes/reload", headers=headers)
        assert reload.status_code == (200 if role is Role.ADMIN else 403), role
        if role is not Role.ADMIN:
            assert "may not do this" in reload.json()["detail"]


def test_the_first_start_creates_one_admin_key(service: Service) -> None:
    assert service.first_admin_key is not None
    with service.db.read() as session:
        assert authenticate(session, service.first_admin_key).role is Role.ADMIN  # type: ignore[union-attr]
