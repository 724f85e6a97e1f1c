"""Object-level access: salespeople see their team's leads, teleprospectors the leads in
teleprospecting stages or their own; any other lead is answered as one that does not exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from api.app import Service
from api.services import keys
from api.services.keys import Role
from tests.api.closing import ready_to_qualify

Client = TestClient  # type: ignore[type-arg]
Headers = dict[str, str]
KeyFor = Callable[[Role, str | None], Headers]

MISSING = 999_999

# Every route that addresses one lead, with a body that would be valid for it.
LEAD_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/leads/{id}", None),
    ("PATCH", "/api/leads/{id}", {"topic": "changed"}),
    ("POST", "/api/leads/{id}/stage", {"to": "inquiry", "reason": "checking"}),
    ("GET", "/api/leads/{id}/history", None),
    ("POST", "/api/leads/{id}/qualify", {"estimated_value": 10, "currency": "EUR"}),
    ("POST", "/api/leads/{id}/disqualify", {"reason": "lost"}),
    ("POST", "/api/leads/{id}/reopen", {}),
    ("GET", "/api/leads/{id}/dispositions", None),
    ("GET", "/api/leads/{id}/activities", None),
    ("GET", "/api/leads/{id}/scores", None),
    ("GET", "/api/leads/{id}/assignments", None),
]


@pytest.fixture
def key_for(service: Service) -> KeyFor:
    def make(role: Role, seller: str | None) -> Headers:
        with service.db.write() as session:
            _, secret = keys.create_key(session, role, f"{role.value} {seller}", seller=seller)
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def admin(app_client: Client, auth: Callable[[Role], Headers]) -> Headers:
    headers = auth(Role.ADMIN)
    for handle, team in (("ana", "north"), ("bo", "north"), ("cy", "south"), ("tina", None)):
        answer = app_client.post(
            "/api/sellers", json={"handle": handle, "name": handle, "team": team}, headers=headers
        )
        assert answer.status_code == 201, answer.text
    return headers


def lead(client: Client, admin: Headers, owner: str | None, topic: str = "Lead") -> int:
    body: dict[str, Any] = {"topic": topic}
    if owner is not None:
        body["owner"] = owner
    answer = client.post("/api/leads", json=body, headers=admin)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def switch(client: Client, admin: Headers, lead_id: int, stage: str) -> None:
    version = client.get(f"/api/leads/{lead_id}", headers=admin).json()["version"]
    answer = client.post(
        f"/api/leads/{lead_id}/stage",
        json={"to": stage, "reason": "test"},
        headers={**admin, "If-Match": f'"{version}"'},
    )
    assert answer.status_code == 200, answer.text


def call(
    client: Client, method: str, path: str, body: dict[str, Any] | None, headers: Headers
) -> Any:
    # A wrong If-Match: a lead the caller may not see must answer 404, never 412.
    return client.request(method, path, json=body, headers={**headers, "If-Match": '"77"'})


def ids(page: dict[str, Any]) -> set[int]:
    return {item["id"] if "id" in item else item["lead"]["id"] for item in page["items"]}


@pytest.mark.parametrize(("method", "path", "body"), LEAD_ROUTES)
def test_a_lead_out_of_sight_answers_as_a_missing_one(
    app_client: Client,
    admin: Headers,
    key_for: KeyFor,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    hidden = lead(app_client, admin, "cy")
    for headers in (
        key_for(Role.SALESPERSON, "ana"),
        key_for(Role.SALESPERSON, None),
        key_for(Role.TELEPROSPECTOR, "tina"),
    ):
        missing = call(app_client, method, path.format(id=MISSING), body, headers)
        answer = call(app_client, method, path.format(id=hidden), body, headers)
        assert missing.status_code == 404, missing.text
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == missing.headers["content-type"]
        assert answer.content == missing.content.replace(
            str(MISSING).encode(), str(hidden).encode()
        )
    after = app_client.get(f"/api/leads/{hidden}", headers=admin).json()
    assert (after["version"], after["topic"], after["status"]) == (1, "Lead", "open")


@pytest.mark.parametrize(("method", "path", "body"), LEAD_ROUTES)
def test_a_lead_in_sight_is_served(
    app_client: Client,
    admin: Headers,
    key_for: KeyFor,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    for headers, owner in (
        (key_for(Role.SALESPERSON, "ana"), "ana"),
        (key_for(Role.SALESPERSON, "ana"), "bo"),
        (key_for(Role.TELEPROSPECTOR, "tina"), "tina"),
    ):
        seen = lead(app_client, admin, owner)
        answer = call(app_client, method, path.format(id=seen), body, headers)
        # Writes meet the wrong If-Match (412) or the lead's state (409): never 404.
        assert answer.status_code in (200, 409, 412), answer.text


def test_roles_that_see_all_read_every_lead(
    app_client: Client, admin: Headers, auth: Callable[[Role], Headers]
) -> None:
    made = {lead(app_client, admin, owner) for owner in ("ana", "cy", None)}
    for role in (Role.ADMIN, Role.MARKETER, Role.SERVICE):
        headers = auth(role)
        assert made <= ids(app_client.get("/api/leads", headers=headers).json())
        for lead_id in made:
            assert app_client.get(f"/api/leads/{lead_id}", headers=headers).status_code == 200


def test_lists_show_only_the_leads_in_sight(
    app_client: Client, admin: Headers, key_for: KeyFor
) -> None:
    ana, bo, cy, nobody = (lead(app_client, admin, o) for o in ("ana", "bo", "cy", None))
    for lead_id in (ana, bo, cy, nobody):
        switch(app_client, admin, lead_id, "teleprospecting_acceptance")  # makes a phone call
    salesperson = key_for(Role.SALESPERSON, "ana")
    assert ids(app_client.get("/api/leads", headers=salesperson).json()) == {ana, bo}
    activities = app_client.get("/api/activities", headers=salesperson).json()["items"]
    assert {a["lead_id"] for a in activities} == {ana, bo}
    queue = app_client.get("/api/queues/teleprospecting", headers=salesperson).json()
    assert ids(queue) == {ana, bo}
    assert ids(app_client.get("/api/queues/unassigned", headers=salesperson).json()) == set()
    others = key_for(Role.SALESPERSON, "cy")
    assert ids(app_client.get("/api/leads", headers=others).json()) == {cy}
    no_seller = key_for(Role.SALESPERSON, None)
    assert ids(app_client.get("/api/leads", headers=no_seller).json()) == set()
    assert app_client.get("/api/activities", headers=no_seller).json()["items"] == []


def test_activities_and_opportunities_of_a_lead_out_of_sight_are_not_found(
    app_client: Client, admin: Headers, key_for: KeyFor
) -> None:
    hidden = lead(app_client, admin, "cy")
    made = app_client.post(
        "/api/activities",
        json={"lead_id": hidden, "kind": "task", "subject": "Call", "due_in": "1d"},
        headers=admin,
    ).json()
    ready = ready_to_qualify(app_client, hidden, headers=admin)
    qualified = app_client.post(
        f"/api/leads/{hidden}/qualify",
        json={"estimated_value": 10, "currency": "EUR"},
        headers={**admin, "If-Match": f'"{ready["version"]}"'},
    ).json()
    opportunity = qualified["opportunity"]["id"]
    salesperson = key_for(Role.SALESPERSON, "ana")
    for path in (
        f"/api/activities/{made['id']}",
        f"/api/opportunities/{opportunity}",
    ):
        answer = app_client.get(path, headers=salesperson)
        missing = app_client.get(path.rsplit("/", 1)[0] + f"/{MISSING}", headers=salesperson)
        assert answer.status_code == missing.status_code == 404
        assert answer.content == missing.content.replace(
            str(MISSING).encode(), path.rsplit("/", 1)[1].encode()
        )
    for verb in ("complete", "cancel"):
        answer = app_client.post(
            f"/api/activities/{made['id']}/{verb}",
            json={},
            headers={**salesperson, "If-Match": f'"{made["version"]}"'},
        )
        assert answer.status_code == 404
    made_again = app_client.post(
        "/api/activities",
        json={"lead_id": hidden, "kind": "task", "subject": "Call", "due_in": "1d"},
        headers=salesperson,
    )
    assert made_again.status_code == 422
    assert made_again.json()["errors"] == [
        {"field": "lead_id", "reason": f"there is no lead {hidden}"}
    ]
    assert app_client.get("/api/opportunities", headers=salesperson).json()["items"] == []
    teammate = key_for(Role.SALESPERSON, "cy")
    assert [
        o["id"] for o in app_client.get("/api/opportunities", headers=teammate).json()["items"]
    ] == [opportunity]


def test_a_teleprospector_sees_a_lead_while_it_is_in_a_teleprospecting_stage(
    app_client: Client, admin: Headers, key_for: KeyFor
) -> None:
    teleprospector = key_for(Role.TELEPROSPECTOR, "tina")
    lead_id = lead(app_client, admin, None)
    own = lead(app_client, admin, "tina")

    def seen() -> bool:
        listed = lead_id in ids(app_client.get("/api/leads", headers=teleprospector).json())
        status = app_client.get(f"/api/leads/{lead_id}", headers=teleprospector).status_code
        assert listed == (status == 200)
        return listed

    assert not seen()
    switch(app_client, admin, lead_id, "teleprospecting_acceptance")
    assert seen()
    switch(app_client, admin, lead_id, "teleprospecting_qualification")
    assert seen()
    switch(app_client, admin, lead_id, "inquiry")
    assert not seen()
    assert app_client.get(f"/api/leads/{own}", headers=teleprospector).status_code == 200


def test_a_lead_reassigned_leaves_its_former_owner(
    app_client: Client, admin: Headers, key_for: KeyFor
) -> None:
    lead_id = lead(app_client, admin, "ana")
    salesperson = key_for(Role.SALESPERSON, "ana")
    assert app_client.get(f"/api/leads/{lead_id}", headers=salesperson).status_code == 200
    moved = app_client.patch(
        f"/api/leads/{lead_id}", json={"owner": "cy"}, headers={**admin, "If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.text
    refused = app_client.patch(
        f"/api/leads/{lead_id}",
        json={"topic": "mine"},
        headers={**salesperson, "If-Match": '"2"'},
    )
    assert refused.status_code == 404
    assert app_client.get(f"/api/leads/{lead_id}", headers=admin).json()["topic"] == "Lead"


def test_a_seller_changing_team_changes_what_teammates_see(
    app_client: Client, admin: Headers, key_for: KeyFor
) -> None:
    lead_id = lead(app_client, admin, "bo")
    ana = key_for(Role.SALESPERSON, "ana")
    assert app_client.get(f"/api/leads/{lead_id}", headers=ana).status_code == 200
    sellers = app_client.get("/api/sellers", headers=admin).json()["items"]
    [bo] = [s for s in sellers if s["handle"] == "bo"]
    changed = app_client.patch(
        f"/api/sellers/{bo['id']}",
        json={"team": "south"},
        headers={**admin, "If-Match": f'"{bo["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    assert app_client.get(f"/api/leads/{lead_id}", headers=ana).status_code == 404


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(owners=st.lists(st.sampled_from(["ana", "bo", "cy", "tina", None]), max_size=6))
def test_what_a_salesperson_lists_is_what_they_can_read(
    app_client: Client, admin: Headers, key_for: KeyFor, owners: list[str | None]
) -> None:
    for owner in owners:
        lead(app_client, admin, owner)
    salesperson = key_for(Role.SALESPERSON, "ana")
    every = ids(app_client.get("/api/leads?limit=200", headers=admin).json())
    listed = ids(app_client.get("/api/leads?limit=200", headers=salesperson).json())
    readable = {
        lead_id
        for lead_id in every
        if app_client.get(f"/api/leads/{lead_id}", headers=salesperson).status_code == 200
    }
    assert listed == readable
