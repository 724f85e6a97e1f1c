"""Owners who act: a salesperson or teleprospector takes a lead from a queue they work within
their capacity, hands a lead they own to a teammate with a reason; an admin gives a lead only
to an active seller with room; every change of owner is an assignment, and the lead's open
activities follow it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import Service
from api.services import owners
from api.services.keys import Principal, Role
from api.services.schemas.owners import TakeRequest
from api.storage.locking import Expected
from leads.errors import DomainError
from tests.api.test_assignment import lead, ready_lead, rule, seller
from tests.api.test_queues import key_for
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]
Headers = dict[str, str]
TP = "teleprospecting_acceptance"


@pytest.fixture
def admin(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.ADMIN))
    return app_client


@pytest.fixture
def key(service: Service) -> Callable[[Role, str | None], Headers]:
    return lambda role, handle: key_for(service, role, handle)


def act(client: Client, lead_id: int, what: str, headers: Headers, body: Json | None = None) -> Any:
    """POST take or hand-off with the lead's current version as If-Match."""
    version = lead(client, lead_id)["version"]
    return client.post(
        f"/api/leads/{lead_id}/{what}", json=body, headers={**headers, "If-Match": f'"{version}"'}
    )


def assignments(client: Client, lead_id: int) -> list[tuple[Any, ...]]:
    items = client.get(f"/api/leads/{lead_id}/assignments").json()["items"]
    return [(a["previous_owner"], a["owner"], a["strategy"], a["reason"]) for a in items]


def open_activities(client: Client, lead_id: int) -> list[tuple[str, str | None]]:
    items = client.get(f"/api/leads/{lead_id}/activities?status=open").json()["items"]
    return [(a["subject"], a["owner"]) for a in items]


def tp_lead(client: Client) -> Json:
    made = client.post("/api/leads", json={"topic": "t"}).json()
    moved = client.post(
        f"/api/leads/{made['id']}/stage",
        json={"to": TP, "reason": "to the phone team"},
        headers={"If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    body: Json = moved.json()
    return body


def test_a_salesperson_takes_a_waiting_lead_from_the_unassigned_queue(
    admin: Client, key: Callable[[Role, str | None], Headers]
) -> None:
    seller(admin, "ana", team="north")
    waiting = ready_lead(admin)  # no rules: it waits for an owner
    ana = key(Role.SALESPERSON, "ana")
    queue = admin.get("/api/queues/unassigned", headers=ana).json()["items"]
    assert [item["lead"]["id"] for item in queue] == [waiting["id"]]
    path = f"/api/leads/{waiting['id']}/take"
    assert admin.post(path, headers=ana).status_code == 428
    assert admin.post(path, headers={**ana, "If-Match": '"9"'}).status_code == 412
    taken = act(admin, waiting["id"], "take", ana, {"reason": "I know them"})
    assert taken.status_code == 200, taken.text
    assert (taken.json()["owner"], taken.json()["version"]) == ("ana", waiting["version"] + 1)
    assert taken.headers["ETag"] == f'"{waiting["version"] + 1}"'
    assert assignments(admin, waiting["id"]) == [(None, "ana", "take", "I know them")]
    assert open_activities(admin, waiting["id"]) == [("Review and accept the lead", "ana")]
    again = act(admin, waiting["id"], "take", ana)
    assert again.status_code == 409 and again.json()["type"].endswith("lead-owned")
    assert admin.get("/api/queues/unassigned", headers=ana).json()["items"] == []


def test_a_take_stays_within_capacity_and_needs_an_active_seller(
    admin: Client, key: Callable[[Role, str | None], Headers]
) -> None:
    ana = seller(admin, "ana", capacity=1)
    first, second = ready_lead(admin), ready_lead(admin)
    headers = key(Role.SALESPERSON, "ana")
    assert act(admin, first["id"], "take", headers).status_code == 200
    full = act(admin, second["id"], "take", headers)
    assert full.status_code == 409, full.text
    problem = full.json()
    assert (problem["seller"], problem["capacity"], problem["load"]) == ("ana", 1, 1)
    assert "capacity is 1" in problem["detail"]
    assert lead(admin, second["id"]) == second
    admin.patch(
        f"/api/sellers/{ana['id']}",
        json={"capacity": 5, "active": False},
        headers={"If-Match": f'"{ana["version"]}"'},
    )
    inactive = act(admin, second["id"], "take", headers)
    assert inactive.status_code == 409 and inactive.json()["seller"] == "ana"
    nobody = act(admin, second["id"], "take", key(Role.SALESPERSON, None))
    assert nobody.status_code == 404  # a salesperson acting for no seller sees no lead
    assert assignments(admin, second["id"]) == []


def test_people_take_only_from_the_queues_they_work(
    admin: Client, key: Callable[[Role, str | None], Headers]
) -> None:
    seller(admin, "ana", team="north")
    seller(admin, "tess")
    phone, ready = tp_lead(admin), ready_lead(admin)
    tess, ana = key(Role.TELEPROSPECTOR, "tess"), key(Role.SALESPERSON, "ana")
    assert act(admin, ready["id"], "take", tess).status_code == 404
    assert act(admin, phone["id"], "take", ana).status_code == 404
    nobody = act(admin, phone["id"], "take", key(Role.TELEPROSPECTOR, None))
    assert nobody.status_code == 409 and nobody.json()["type"].endswith("no-seller")
    taken = act(admin, phone["id"], "take", tess)
    assert taken.status_code == 200 and taken.json()["owner"] == "tess"
    assert open_activities(admin, phone["id"]) == [("Call the lead", "tess")]
    inquiry = admin.post("/api/leads", json={"topic": "cold"}).json()
    assert act(admin, inquiry["id"], "take", ana).status_code == 404
    admin_seller = act(admin, inquiry["id"], "take", key(Role.ADMIN, "ana"))
    assert admin_seller.status_code == 409, admin_seller.text
    assert admin_seller.json()["queues"] == ["sales", "teleprospecting"]


def test_an_owner_hands_a_lead_to_a_teammate_with_a_reason(
    admin: Client, key: Callable[[Role, str | None], Headers]
) -> None:
    seller(admin, "ana", team="north")
    seller(admin, "bo", team="north", capacity=1)
    seller(admin, "cy", team="south")
    seller(admin, "dee", team="north", active=False)
    rule(admin, "to ana", sellers=["ana"])
    owned = ready_lead(admin)
    assert open_activities(admin, owned["id"]) == [("Review and accept the lead", "ana")]
    ana, bo = key(Role.SALESPERSON, "ana"), key(Role.SALESPERSON, "bo")
    refused = {
        "cy": "'cy' is not a seller of your team (team 'north')",
        "dee": "the seller 'dee' is not active",
        "zed": "there is no seller 'zed'",
        "ana": "'ana' owns the lead already",
    }
    for to, reason in refused.items():
        answer = act(admin, owned["id"], "hand-off", ana, {"to": to, "reason": "away"})
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"] == [{"field": "to", "reason": reason}]
    assert act(admin, owned["id"], "hand-off", bo, {"to": "bo", "reason": "x"}).status_code == 409
    past = {"to": "bo", "reason": "x", "exceed_capacity": True}
    assert act(admin, owned["id"], "hand-off", ana, past).json()["errors"][0]["field"] == (
        "exceed_capacity"
    )
    handed = act(admin, owned["id"], "hand-off", ana, {"to": "bo", "reason": "on holiday"})
    assert handed.status_code == 200, handed.text
    assert handed.json()["owner"] == "bo"
    assert assignments(admin, owned["id"])[-1] == ("ana", "bo", "hand_off", "on holiday")
    [task] = admin.get(f"/api/leads/{owned['id']}/activities").json()["items"]
    assert task["owner"] == "bo"
    trail = admin.get(f"/api/activities/{task['id']}/audit").json()["items"]
    assert [(e["field"], e["old"], e["new"]) for e in trail[:2]] == [
        ("owner", "ana", "bo"),
        ("owner", None, "ana"),
    ]
    other = ready_lead(admin)  # ana again, by the rule
    full = act(admin, other["id"], "hand-off", ana, {"to": "bo", "reason": "x"})
    assert (full.status_code, full.json()["seller"], full.json()["capacity"]) == (409, "bo", 1)
    forced = act(admin, other["id"], "hand-off", {}, {**past, "to": "bo"})
    assert forced.status_code == 200 and forced.json()["owner"] == "bo"


def test_an_admin_gives_a_lead_only_to_an_active_seller_with_room(
    admin: Client, key: Callable[[Role, str | None], Headers]
) -> None:
    seller(admin, "ana", capacity=1)
    seller(admin, "dee", active=False)
    first, second = ready_lead(admin), ready_lead(admin)
    version = {"If-Match": f'"{first["version"]}"'}
    for owner, reason in (
        ("sam", "there is no seller 'sam'"),
        ("dee", "the seller 'dee' is not active"),
    ):
        answer = admin.patch(f"/api/leads/{first['id']}", json={"owner": owner}, headers=version)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"] == [{"field": "owner", "reason": reason}]
    given = admin.patch(f"/api/leads/{first['id']}", json={"owner": "ana"}, headers=version)
    assert given.status_code == 200, given.text
    assert assignments(admin, first["id"])[-1][:3] == (None, "ana", "manual")
    assert open_activities(admin, first["id"]) == [("Review and accept the lead", "ana")]
    full = admin.patch(f"/api/leads/{second['id']}", json={"owner": "ana"}, headers=version)
    assert full.status_code == 409 and full.json()["type"].endswith("seller-at-capacity")
    assert lead(admin, second["id"]) == second
    cleared = admin.patch(
        f"/api/leads/{first['id']}",
        json={"owner": None},
        headers={"If-Match": given.headers["ETag"]},
    )
    assert cleared.status_code == 200 and cleared.json()["owner"] is None
    assert open_activities(admin, first["id"]) == [("Review and accept the lead", None)]


def _race(service: Service, takes: list[tuple[str, int, int]]) -> list[Any]:
    """Take at once, each (seller, lead id, version read); what each got."""
    results: list[Any] = [None] * len(takes)
    start = threading.Barrier(len(takes))

    def run(index: int, handle: str, lead_id: int, version: int) -> None:
        principal = Principal(key_id=index + 1, name=handle, role=Role.SALESPERSON, seller=handle)
        start.wait()
        try:
            results[index] = owners.take(
                service.db,
                service.catalog,
                principal,
                lead_id,
                Expected(frozenset({version})),
                TakeRequest(),
            ).owner
        except DomainError as exc:
            results[index] = exc.slug

    threads = [threading.Thread(target=run, args=(i, *t)) for i, t in enumerate(takes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_takes_at_once_give_one_owner(admin: Client, service: Service) -> None:
    for handle in ("ana", "bo", "cy", "dan"):
        seller(admin, handle, team="north")
    made = ready_lead(admin)
    results = _race(service, [(h, made["id"], made["version"]) for h in ("ana", "bo", "cy", "dan")])
    winners = [r for r in results if r in ("ana", "bo", "cy", "dan")]
    assert len(winners) == 1 and sorted(set(results) - set(winners)) == ["stale-version"]
    assert lead(admin, made["id"])["owner"] == winners[0]
    assert [a[1] for a in assignments(admin, made["id"])] == winners


def test_takes_at_once_never_pass_capacity(admin: Client, service: Service) -> None:
    seller(admin, "ana", capacity=1)
    made = [ready_lead(admin) for _ in range(4)]
    results = _race(service, [("ana", m["id"], m["version"]) for m in made])
    assert sorted(results) == ["ana", *["seller-at-capacity"] * 3]
    assert sum(lead(admin, m["id"])["owner"] == "ana" for m in made) == 1
