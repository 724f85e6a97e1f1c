"""Sellers and assignment rules over HTTP: round robin and least loaded within capacity, the
first matching rule, the unassigned queue and when it is routed again, every path that makes a
lead wait for an owner, and why each lead went to whom."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from litestar.testing import TestClient

import bpf
from api.app import Service
from api.services import leads as lead_service
from api.services import sellers as seller_service
from api.services.keys import Role
from api.services.schemas.leads import LeadCreate
from api.services.schemas.sellers import RuleCreate
from bpf.actors import Actor
from scoring.routing import Strategy
from tests.api.closing import ready_to_qualify
from tests.api.test_scoring import interact, live
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]
SA = "sales_acceptance"


@pytest.fixture
def admin(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.ADMIN))
    return app_client


def seller(client: Client, handle: str, capacity: int = 50, **fields: Any) -> dict[str, Any]:
    response = client.post(
        "/api/sellers",
        json={"handle": handle, "name": handle.title(), "capacity": capacity, **fields},
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def rule(client: Client, name: str, strategy: str = "round_robin", **fields: Any) -> dict[str, Any]:
    response = client.post(
        "/api/assignment-rules", json={"name": name, "strategy": strategy, **fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def ready_lead(client: Client, **fields: Any) -> dict[str, Any]:
    """A lead marked sales ready by hand: it moves to Sales acceptance and is routed."""
    response = client.post("/api/leads", json={"topic": "t", "sales_ready": True, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["stage"] == SA
    return body


def lead(client: Client, lead_id: int) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/leads/{lead_id}").json()
    return body


CLOSING = {
    "qualified": ("qualify", {"estimated_value": 1000, "currency": "EUR"}),
    "disqualified": ("disqualify", {"reason": "lost"}),
}


def close(
    client: Client, lead_id: int, status: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Qualify or disqualify the lead (as the client, or with these headers)."""
    action, body = CLOSING[status]
    if status == "qualified":
        ready_to_qualify(client, lead_id, headers=headers)
    current = client.get(f"/api/leads/{lead_id}")
    response = client.post(
        f"/api/leads/{lead_id}/{action}",
        json=body,
        headers={**(headers or {}), "If-Match": current.headers["etag"]},
    )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def patch(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    current = client.get(path)
    response = client.patch(path, json=body, headers={"If-Match": current.headers["etag"]})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def waiting(client: Client) -> dict[int, str]:
    response = client.get("/api/queues/unassigned", params={"limit": 200})
    assert response.status_code == 200, response.text
    return {item["lead"]["id"]: item["reason"] for item in response.json()["items"]}


def test_sellers_are_records_with_versions(admin: Client) -> None:
    created = admin.post(
        "/api/sellers",
        json={"handle": "ana", "name": "Ana", "team": "emea", "territory": "FR", "capacity": 3},
    )
    assert created.status_code == 201
    assert created.headers["etag"] == '"1"'
    body = created.json()
    assert (body["handle"], body["team"], body["active"], body["open_leads"]) == (
        "ana",
        "emea",
        True,
        0,
    )
    twice = admin.post("/api/sellers", json={"handle": "ana", "name": "Other"})
    assert twice.status_code == 409
    assert twice.json()["errors"] == [
        {"field": "handle", "reason": "a seller with handle 'ana' exists"}
    ]
    bad = admin.post("/api/sellers", json={"handle": "Ana Smith", "name": "A", "capacity": -1})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"handle", "capacity"}

    path = f"/api/sellers/{body['id']}"
    assert admin.patch(path, json={"capacity": 4}).status_code == 428
    stale = admin.patch(path, json={"capacity": 4}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    assert admin.patch(path, json={"handle": "x"}, headers={"If-Match": '"1"'}).status_code == 422
    cleared = admin.patch(path, json={"capacity": None}, headers={"If-Match": '"1"'})
    assert cleared.json()["errors"] == [{"field": "capacity", "reason": "cannot be cleared"}]
    done = admin.patch(path, json={"active": False}, headers={"If-Match": '"1"'})
    assert done.status_code == 200
    assert (done.json()["active"], done.json()["version"]) == (False, 2)
    seller(admin, "bo", team="emea")
    listed = admin.get("/api/sellers", params={"active": True}).json()["items"]
    assert [s["handle"] for s in listed] == ["bo"]
    assert admin.get(path).json()["capacity"] == 3


def test_only_admins_manage_sellers_and_rules(app_client: Client, auth: KeyMaker) -> None:
    sales = auth(Role.SALESPERSON)
    refused = app_client.post("/api/sellers", json={"handle": "x", "name": "X"}, headers=sales)
    assert refused.status_code == 403
    body = {"name": "r", "strategy": "round_robin", "team": "t"}
    assert app_client.post("/api/assignment-rules", json=body, headers=sales).status_code == 403
    assert app_client.get("/api/sellers", headers=sales).status_code == 200
    assert app_client.get("/api/queues/sales", headers=sales).status_code == 200
    marketer = auth(Role.MARKETER)
    assert app_client.get("/api/queues/sales", headers=marketer).status_code == 403


def test_rule_conditions_and_sellers_are_checked_naming_the_field(admin: Client) -> None:
    seller(admin, "ana")
    bad_field = admin.post(
        "/api/assignment-rules",
        json={
            "name": "r",
            "strategy": "round_robin",
            "sellers": ["ana"],
            "when": {"field": "opportunity.size", "op": "equals", "value": 1},
        },
    )
    assert bad_field.status_code == 422
    assert any(e["field"].startswith("when") for e in bad_field.json()["errors"])
    bad_value = admin.post(
        "/api/assignment-rules",
        json={
            "name": "r",
            "strategy": "least_loaded",
            "sellers": ["ana"],
            "when": {"field": "account.employees", "op": "greater", "value": "many"},
        },
    )
    assert bad_value.status_code == 422
    assert "takes a number" in bad_value.text
    unknown = admin.post(
        "/api/assignment-rules",
        json={"name": "r", "strategy": "round_robin", "sellers": ["ana", "zed"]},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "sellers.1", "reason": "there is no seller 'zed'"}
    ]
    nobody = admin.post("/api/assignment-rules", json={"name": "r", "strategy": "round_robin"})
    assert nobody.status_code == 422
    assert "names its sellers, a team, or both" in nobody.text
    strategy = admin.post(
        "/api/assignment-rules", json={"name": "r", "strategy": "random", "sellers": ["ana"]}
    )
    assert strategy.status_code == 422
    assert strategy.json()["errors"][0]["field"] == "strategy"
    assert admin.get("/api/assignment-rules").json() == []


def test_rules_are_ordered_and_reordered_by_position(admin: Client) -> None:
    seller(admin, "ana")
    first = rule(admin, "first", sellers=["ana"])
    second = rule(admin, "second", sellers=["ana"])
    top = rule(admin, "top", sellers=["ana"], position=1)
    names = [(r["name"], r["position"]) for r in admin.get("/api/assignment-rules").json()]
    assert names == [("top", 1), ("first", 2), ("second", 3)]
    patch(admin, f"/api/assignment-rules/{second['id']}", {"position": 1})
    names = [r["name"] for r in admin.get("/api/assignment-rules").json()]
    assert names == ["second", "top", "first"]
    # A rule another one pushes down gets a new version: "first" was pushed down twice.
    assert admin.get(f"/api/assignment-rules/{first['id']}").json()["version"] == 3
    etag = admin.get(f"/api/assignment-rules/{top['id']}").headers["etag"]
    gone = admin.delete(f"/api/assignment-rules/{top['id']}", headers={"If-Match": etag})
    assert gone.status_code == 204
    positions = [(r["name"], r["position"]) for r in admin.get("/api/assignment-rules").json()]
    assert positions == [("second", 1), ("first", 2)]
    twice = admin.post(
        "/api/assignment-rules", json={"name": "first", "strategy": "round_robin", "team": "x"}
    )
    assert twice.json()["errors"] == [
        {"field": "name", "reason": "an assignment rule named 'first' exists"}
    ]


def test_round_robin_spreads_evenly_and_says_why(admin: Client) -> None:
    for handle in ("ana", "bo", "cy"):
        seller(admin, handle)
    made = rule(admin, "everyone", sellers=["ana", "bo", "cy"])
    owners = [ready_lead(admin)["owner"] for _ in range(9)]
    assert owners == ["ana", "bo", "cy"] * 3
    one = ready_lead(admin)
    assert one["owner"] == "ana"
    assert one["version"] >= 2
    history = admin.get(f"/api/leads/{one['id']}/assignments").json()["items"]
    assert len(history) == 1
    entry = history[0]
    assert (entry["owner"], entry["rule_id"], entry["rule_name"], entry["strategy"]) == (
        "ana",
        made["id"],
        "everyone",
        "round_robin",
    )
    assert "round robin" in entry["reason"] and "ana, who had 3 of 50" in entry["reason"]
    assert (entry["actor"], entry["actor_name"]) == ("user", "admin tester")
    assert admin.get(f"/api/assignment-rules/{made['id']}").json()["last_assigned"] == "ana"
    loads = {s["handle"]: s["open_leads"] for s in admin.get("/api/sellers").json()["items"]}
    assert loads == {"ana": 4, "bo": 3, "cy": 3}


def test_round_robin_respects_capacity_and_skips_inactive_sellers(admin: Client) -> None:
    seller(admin, "ana", capacity=1)
    seller(admin, "bo", capacity=5)
    cy = seller(admin, "cy", capacity=5, active=False)
    rule(admin, "everyone", sellers=["ana", "bo", "cy"])
    owners = [ready_lead(admin)["owner"] for _ in range(4)]
    assert owners == ["ana", "bo", "bo", "bo"]
    patch(admin, f"/api/sellers/{cy['id']}", {"active": True})
    assert [ready_lead(admin)["owner"] for _ in range(3)] == ["cy", "bo", "cy"]


def test_least_loaded_counts_open_leads_owned_also_by_hand(admin: Client) -> None:
    seller(admin, "ana")
    seller(admin, "bo")
    rule(admin, "balance", strategy="least_loaded", sellers=["ana", "bo"])
    # Owners set by hand count toward load; a closed lead does not.
    for _ in range(2):
        admin.post("/api/leads", json={"topic": "t", "owner": "ana"})
    closed = admin.post("/api/leads", json={"topic": "t", "owner": "bo"}).json()
    for _ in range(3):
        admin.post("/api/leads", json={"topic": "t", "owner": "bo"})
    close(admin, closed["id"], "disqualified")
    # ana 2 open, bo 3 open: ana takes the next one, then they tie and the first listed wins.
    assert [ready_lead(admin)["owner"] for _ in range(3)] == ["ana", "ana", "bo"]
    history = admin.get(f"/api/leads/{closed['id']}/assignments").json()["items"]
    assert [(h["owner"], h["strategy"]) for h in history] == [("bo", "manual")]
    assert "set by hand to seller bo" in history[0]["reason"]


def test_the_first_matching_rule_wins(admin: Client) -> None:
    for handle in ("fr1", "fr2", "big", "anyone"):
        seller(admin, handle)
    france = rule(
        admin,
        "france",
        sellers=["fr1", "fr2"],
        when={"field": "account.country", "op": "equals", "value": "fr"},
    )
    rule(
        admin,
        "big accounts",
        strategy="least_loaded",
        sellers=["big"],
        when={"field": "account.employees", "op": "greater", "value": 1000},
    )
    rule(admin, "the rest", sellers=["anyone"])
    paris = admin.post("/api/accounts", json={"name": "Paris SA", "country": "FR"}).json()
    huge = admin.post("/api/accounts", json={"name": "Huge", "employees": 5000}).json()
    both = admin.post(
        "/api/accounts", json={"name": "Huge FR", "country": "FR", "employees": 5000}
    ).json()
    contact = admin.post("/api/contacts", json={"email": "c@x.io", "account_id": huge["id"]}).json()
    assert ready_lead(admin, parent_account_id=paris["id"])["owner"] == "fr1"
    assert ready_lead(admin, parent_contact_id=contact["id"])["owner"] == "big"
    assert ready_lead(admin, parent_account_id=both["id"])["owner"] == "fr2"
    assert ready_lead(admin)["owner"] == "anyone"
    # Moved last, the France rule no longer sees the big French account first.
    patch(admin, f"/api/assignment-rules/{france['id']}", {"position": 3})
    assert ready_lead(admin, parent_account_id=both["id"])["owner"] == "big"


def test_a_lead_nobody_can_take_waits_until_capacity_frees_up(admin: Client) -> None:
    ana = seller(admin, "ana", capacity=1)
    rule(admin, "ana only", sellers=["ana"])
    first = ready_lead(admin)
    second = ready_lead(admin)
    third = ready_lead(admin)
    assert (first["owner"], second["owner"], third["owner"]) == ("ana", None, None)
    reasons = waiting(admin)
    assert list(reasons) == [second["id"], third["id"]]
    assert reasons[second["id"]] == (
        "rule 'ana only' matched, but none of its sellers can take the lead: "
        "ana is at capacity (1 of 1)"
    )
    # The lead ana owns closes: the oldest waiting lead is hers at once.
    close(admin, first["id"], "qualified")
    assert lead(admin, second["id"])["owner"] == "ana"
    assert list(waiting(admin)) == [third["id"]]
    # More capacity takes the next.
    patch(admin, f"/api/sellers/{ana['id']}", {"capacity": 2})
    assert lead(admin, third["id"])["owner"] == "ana"
    assert waiting(admin) == {}
    history = admin.get(f"/api/leads/{third['id']}/assignments").json()["items"]
    assert history[-1]["actor_name"] == "admin tester"


def test_a_seller_added_or_a_rule_changed_takes_waiting_leads(admin: Client) -> None:
    ana = seller(admin, "ana", active=False)
    made = rule(admin, "emea", team="emea", sellers=["ana"])
    waiting_lead = ready_lead(admin)
    assert waiting(admin) == {
        waiting_lead["id"]: "rule 'emea' matched, but none of its sellers can take the lead: "
        "ana is inactive"
    }
    seller(admin, "bo", team="emea")
    assert lead(admin, waiting_lead["id"])["owner"] == "bo"
    patch(admin, f"/api/sellers/{ana['id']}", {"active": True})
    # A rule that no longer matches everyone leaves a lead waiting; changing it back routes it.
    patch(
        admin,
        f"/api/assignment-rules/{made['id']}",
        {"when": {"field": "lead.topic", "op": "equals", "value": "emea"}},
    )
    other = ready_lead(admin)
    assert waiting(admin) == {other["id"]: "no assignment rule matches the lead"}
    patch(admin, f"/api/assignment-rules/{made['id']}", {"when": None})
    assert lead(admin, other["id"])["owner"] == "ana"


def test_without_rules_leads_wait_and_an_explicit_route_assigns_them(
    admin: Client, service: Service
) -> None:
    first = ready_lead(admin)
    assert waiting(admin) == {first["id"]: "there are no assignment rules"}
    ana = seller(admin, "ana", capacity=0)
    rule(admin, "ana", sellers=["ana"])
    # Capacity granted behind the API's back (another process, say): the route POST picks it up.
    with service.db.write() as session:
        session.connection().exec_driver_sql(
            f"UPDATE seller SET capacity = 5 WHERE id = {ana['id']}"
        )
    assert lead(admin, first["id"])["owner"] is None
    routed = admin.post("/api/queues/unassigned/route")
    assert routed.status_code == 200, routed.text
    body = routed.json()
    assert [(a["lead_id"], a["owner"]) for a in body["assigned"]] == [(first["id"], "ana")]
    assert body["waiting"] == 0
    assert admin.post("/api/queues/unassigned/route").json() == {"assigned": [], "waiting": 0}


def test_an_owner_cleared_by_hand_is_routed_again(admin: Client) -> None:
    seller(admin, "ana")
    seller(admin, "bo")
    rule(admin, "pair", sellers=["ana", "bo"])
    one = ready_lead(admin)
    assert one["owner"] == "ana"
    again = patch(admin, f"/api/leads/{one['id']}", {"owner": None})
    assert again["owner"] == "bo"
    history = admin.get(f"/api/leads/{one['id']}/assignments").json()["items"]
    assert [(h["owner"], h["strategy"]) for h in history] == [
        ("ana", "round_robin"),
        (None, "manual"),
        ("bo", "round_robin"),
    ]


def test_moving_a_lead_into_sales_acceptance_routes_it(admin: Client) -> None:
    seller(admin, "ana")
    rule(admin, "all", sellers=["ana"])
    created = admin.post("/api/leads", json={"topic": "t"}).json()
    assert created["owner"] is None
    moved = admin.post(
        f"/api/leads/{created['id']}/stage",
        json={"to": SA, "reason": "asked for a quote"},
        headers={"If-Match": f'"{created["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner"] == "ana"
    assert moved.headers["etag"] == f'"{moved.json()["version"]}"'
    assert lead(admin, created["id"])["version"] == moved.json()["version"]


def test_scoring_that_makes_a_lead_sales_ready_routes_it(admin: Client) -> None:
    seller(admin, "ana")
    rule(admin, "all", sellers=["ana"])
    created = admin.post("/api/leads", json={"topic": "t"}).json()
    live(
        admin,
        {
            "rules": [{"type": "behaviour", "name": "visits", "kind": "page_visit", "points": 10}],
            "sales_ready_score": 20,
        },
    )
    for n in range(2):
        interact(
            admin,
            {
                "kind": "page_visit",
                "lead_id": created["id"],
                "occurred_at": f"2026-11-0{n + 1}T10:00:00Z",
            },
        )
    found = lead(admin, created["id"])
    assert (found["sales_ready"], found["stage"], found["owner"]) == (True, SA, "ana")
    history = admin.get(f"/api/leads/{created['id']}/assignments").json()["items"]
    assert (history[0]["actor"], history[0]["strategy"]) == ("scoring", "round_robin")


def test_a_full_evaluation_routes_the_leads_it_makes_sales_ready(admin: Client) -> None:
    seller(admin, "ana", capacity=2)
    rule(admin, "all", strategy="least_loaded", sellers=["ana"])
    made = [admin.post("/api/leads", json={"topic": "t"}).json() for _ in range(3)]
    for one in made:
        interact(
            admin,
            {"kind": "page_visit", "lead_id": one["id"], "occurred_at": "2026-11-01T10:00:00Z"},
        )
    # Going live evaluates every lead at once, in the background, set-based.
    live(
        admin,
        {
            "rules": [{"type": "behaviour", "name": "visits", "kind": "page_visit", "points": 10}],
            "sales_ready_score": 10,
        },
    )
    found = [lead(admin, one["id"]) for one in made]
    assert [(x["stage"], x["owner"]) for x in found] == [(SA, "ana"), (SA, "ana"), (SA, None)]
    assert list(waiting(admin)) == [made[2]["id"]]
    history = admin.get(f"/api/leads/{made[0]['id']}/assignments").json()["items"]
    assert (history[0]["actor"], history[0]["strategy"]) == ("scoring", "least_loaded")


def test_imported_sales_ready_leads_are_routed(admin: Client) -> None:
    seller(admin, "ana", capacity=1)
    seller(admin, "bo", capacity=1)
    rule(admin, "all", sellers=["ana", "bo"])
    text = "topic,sales_ready\none,true\ntwo,true\nthree,true\nfour,false\n"
    response = admin.post(
        "/api/imports/leads", content=text.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    leads = admin.get("/api/leads").json()["items"]
    assert {x["topic"]: x["owner"] for x in leads} == {
        "one": "ana",
        "two": "bo",
        "three": None,
        "four": None,
    }
    assert [lead(admin, i)["topic"] for i in waiting(admin)] == ["three"]


def test_concurrent_leads_spread_by_round_robin_within_capacity(service: Service) -> None:
    with service.db.write() as session:
        connection = session.connection()
        for handle in ("ana", "bo", "cy"):
            connection.exec_driver_sql(
                "INSERT INTO seller (handle, name, capacity, active, version, created_at, "
                f"updated_at) VALUES ('{handle}', '{handle}', 50, true, 1, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
    actor = Actor(bpf.ActorKind.USER, "racer")
    seller_service.create_rule(
        service.db,
        service.catalog,
        RuleCreate(name="all", strategy=Strategy.ROUND_ROBIN, sellers=["ana", "bo", "cy"]),
        actor,
    )
    owners: list[str | None] = []
    errors: list[BaseException] = []

    def make() -> None:
        try:
            for _ in range(5):
                made = lead_service.create_lead(
                    service.db, service.catalog, LeadCreate(topic="t", sales_ready=True), actor
                )
                owners.append(made.owner)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = Counter(owners)
    assert counts == {"ana": 10, "bo": 10, "cy": 10}


def test_the_activities_of_the_change_that_routes_a_lead_go_to_its_seller(admin: Client) -> None:
    seller(admin, "ana")
    rule(admin, "all", sellers=["ana"])
    made = ready_lead(admin)
    assert made["owner"] == "ana"
    [task] = admin.get(f"/api/leads/{made['id']}/activities").json()["items"]
    assert (task["subject"], task["owner"]) == ("Review and accept the lead", "ana")
    [entry] = admin.get(f"/api/activities/{task['id']}/audit").json()["items"]
    assert (entry["field"], entry["old"], entry["new"]) == ("owner", None, "ana")


def test_open_activities_follow_a_lead_that_changes_owner(admin: Client) -> None:
    seller(admin, "ana")
    seller(admin, "bo")
    rule(admin, "all", sellers=["ana"])
    made = ready_lead(admin)
    by_hand = admin.post(
        "/api/activities",
        json={
            "lead_id": made["id"],
            "kind": "task",
            "subject": "Tess's",
            "due_in": "1d",
            "owner": "tess",
        },
    ).json()
    done = admin.post(
        "/api/activities",
        json={"lead_id": made["id"], "kind": "task", "subject": "Done", "due_in": "1d"},
    ).json()
    admin.post(f"/api/activities/{done['id']}/complete", headers={"If-Match": '"1"'})
    patch(admin, f"/api/leads/{made['id']}", {"owner": "bo"})
    found = admin.get(f"/api/leads/{made['id']}/activities").json()["items"]
    assert [(a["subject"], a["owner"]) for a in found] == [
        ("Review and accept the lead", "bo"),
        ("Tess's", "tess"),
        ("Done", "ana"),
    ]
    assert by_hand["owner"] == "tess"
