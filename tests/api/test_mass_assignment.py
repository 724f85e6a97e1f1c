"""PATCH refuses fields that change elsewhere, names where, and applies nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from api.services.keys import Role

Client = TestClient  # type: ignore[type-arg]
Headers = dict[str, str]

REFUSED_FOR_EVERYONE = {
    "stage": "changes through POST /api/leads/{id}/stage",
    "process": 'changes through POST /api/leads/{id}/stage with {"process": ...}',
    "status": "changes through POST /api/leads/{id}/qualify, /disqualify or /reopen, "
    "which keep who did it and why",
    "score": "computed by the scoring models; see GET /api/leads/{id}/scores",
    "version": "cannot be set; send the ETag you read as If-Match, the version rises with "
    "each change",
    "id": "set by the service; it cannot be changed",
    "created_at": "set by the service; it cannot be changed",
}
VALUES: dict[str, Any] = {
    "stage": "teleprospecting_acceptance",
    "process": "lead_to_opportunity",
    "status": "qualified",
    "score": 100,
    "version": 9,
    "id": 5,
    "created_at": "2020-01-01T00:00:00Z",
}


@pytest.fixture
def admin(auth: Callable[[Role], Headers]) -> Headers:
    return auth(Role.ADMIN)


def new_lead(client: Client, admin: Headers) -> dict[str, Any]:
    answer = client.post("/api/leads", json={"topic": "Lead"}, headers=admin)
    assert answer.status_code == 201
    return dict(answer.json())


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MARKETER, Role.SALESPERSON, Role.SERVICE])
@pytest.mark.parametrize("field", sorted(REFUSED_FOR_EVERYONE))
def test_read_only_lead_fields_are_refused_and_nothing_changes(
    app_client: Client, auth: Callable[[Role], Headers], admin: Headers, role: Role, field: str
) -> None:
    before = new_lead(app_client, admin)
    answer = app_client.patch(
        f"/api/leads/{before['id']}",
        json={"topic": "changed", field: VALUES[field]},
        headers={**auth(role), "If-Match": '"1"'},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [{"field": field, "reason": REFUSED_FOR_EVERYONE[field]}]
    assert f"{field}: {REFUSED_FOR_EVERYONE[field]}" in answer.json()["detail"]
    assert app_client.get(f"/api/leads/{before['id']}", headers=admin).json() == before


def test_every_refused_field_is_named_at_once(app_client: Client, admin: Headers) -> None:
    lead = new_lead(app_client, admin)
    answer = app_client.patch(
        f"/api/leads/{lead['id']}",
        json={"stage": "x", "score": 1, "version": 3},
        headers={**admin, "If-Match": '"1"'},
    )
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {"stage", "score", "version"}


@pytest.mark.parametrize("role", [Role.MARKETER, Role.TELEPROSPECTOR, Role.SALESPERSON])
def test_only_an_admin_sets_the_owner(
    app_client: Client, auth: Callable[[Role], Headers], admin: Headers, role: Role
) -> None:
    lead = new_lead(app_client, admin)
    app_client.post("/api/sellers", json={"handle": "ana", "name": "Ana"}, headers=admin)
    refused = app_client.patch(
        f"/api/leads/{lead['id']}",
        json={"owner": "ana", "topic": "changed"},
        headers={**auth(role), "If-Match": '"1"'},
    )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "owner" and "only an admin" in error["reason"]
    assert app_client.get(f"/api/leads/{lead['id']}", headers=admin).json() == lead
    done = app_client.patch(
        f"/api/leads/{lead['id']}", json={"owner": "ana"}, headers={**admin, "If-Match": '"1"'}
    )
    assert done.status_code == 200 and done.json()["owner"] == "ana"
    [assigned] = app_client.get(f"/api/leads/{lead['id']}/assignments", headers=admin).json()[
        "items"
    ]
    assert (assigned["owner"], assigned["strategy"]) == ("ana", "manual")


def test_the_schema_marks_the_refused_fields_read_only(app_client: Client) -> None:
    schema = app_client.get("/schema/openapi.json").json()["components"]["schemas"]
    fields = schema["LeadUpdate"]["properties"]
    for name, where in REFUSED_FOR_EVERYONE.items():
        assert fields[name] == {"description": f"Read-only: {where}.", "readOnly": True}
    assert "readOnly" not in fields["owner"]


@pytest.mark.parametrize("kind", ["contacts", "accounts"])
@pytest.mark.parametrize("field", ["id", "version", "created_at", "updated_at"])
def test_contacts_and_accounts_refuse_fields_the_service_sets(
    app_client: Client, admin: Headers, kind: str, field: str
) -> None:
    body = {"email": "a@example.com"} if kind == "contacts" else {"name": "Acme"}
    made = app_client.post(f"/api/{kind}", json=body, headers=admin).json()
    value = "2020-01-01T00:00:00Z" if field.endswith("_at") else 7
    answer = app_client.patch(
        f"/api/{kind}/{made['id']}",
        json={"country": "FR", field: value},
        headers={**admin, "If-Match": '"1"'},
    )
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert error["field"] == field
    assert app_client.get(f"/api/{kind}/{made['id']}", headers=admin).json() == made


def test_a_contact_consent_changes_only_through_its_route(
    app_client: Client, admin: Headers
) -> None:
    made = app_client.post("/api/contacts", json={"email": "a@example.com"}, headers=admin).json()
    answer = app_client.patch(
        f"/api/contacts/{made['id']}",
        json={"consent_level": "opted_in"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {
            "field": "consent_level",
            "reason": "changes through POST /api/contacts/{id}/consent, which records it",
        }
    ]
