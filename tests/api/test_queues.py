"""The work queues: sales and teleprospecting, mine or all, by score or by time qualified, a
page at a time; stage names come from stages.yaml."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import event

from api.app import Service
from api.services import keys
from api.services.keys import Role
from tests.api.test_assignment import SA, close, lead, patch, ready_lead, rule, seller
from tests.api.test_scoring import live
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def admin(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.ADMIN))
    return app_client


def key_for(service: Service, role: Role, seller_handle: str | None) -> dict[str, str]:
    with service.db.write() as session:
        _, secret = keys.create_key(session, role, f"{role.value} key", seller=seller_handle)
    return {"Authorization": f"Bearer {secret}"}


def ids(
    client: Client, path: str, headers: dict[str, str] | None = None, **params: Any
) -> list[int]:
    """Every lead of the queue, following the cursor one lead at a time."""
    found: list[int] = []
    cursor = None
    while True:
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found += [item["lead"]["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


SCORED = {
    "rules": [
        {
            "type": "attribute",
            "name": "hot",
            "when": {"field": "lead.topic", "op": "equals", "value": "hot"},
            "points": 50,
        },
        {
            "type": "attribute",
            "name": "warm",
            "when": {"field": "lead.topic", "op": "equals", "value": "warm"},
            "points": 20,
        },
    ]
}


def test_the_sales_queue_sorts_by_score_or_by_time_qualified(admin: Client) -> None:
    model = live(admin, SCORED)
    warm = ready_lead(admin, topic="warm")
    cold = ready_lead(admin, topic="cold")
    hot = ready_lead(admin, topic="hot")
    other = live(
        admin,
        {
            "rules": [
                {
                    "type": "attribute",
                    "name": "cold first",
                    "when": {"field": "lead.topic", "op": "equals", "value": "cold"},
                    "points": 90,
                }
            ]
        },
        name="contrarian",
    )
    not_ready = admin.post("/api/leads", json={"topic": "hot"}).json()
    closed = ready_lead(admin, topic="hot")
    close(admin, closed["id"], "disqualified")
    # The highest score across live models: cold has 90 from the second model.
    assert ids(admin, "/api/queues/sales") == [cold["id"], hot["id"], warm["id"]]
    assert ids(admin, "/api/queues/sales", model=model["id"]) == [hot["id"], warm["id"], cold["id"]]
    assert ids(admin, "/api/queues/sales", sort="qualified") == [warm["id"], cold["id"], hot["id"]]
    page = admin.get("/api/queues/sales", params={"model": model["id"]}).json()["items"]
    assert [(i["score"], i["lead"]["topic"]) for i in page] == [
        (50.0, "hot"),
        (20.0, "warm"),
        (0.0, "cold"),
    ]
    assert page[0]["qualified_at"] == page[0]["lead"]["stage_entered_at"]
    assert not_ready["id"] not in ids(admin, "/api/queues/sales")
    assert other["id"] != model["id"]
    unknown = admin.get("/api/queues/sales", params={"model": 999})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "model", "reason": "there is no scoring model 999"}
    ]
    bad = admin.get("/api/queues/sales", params={"sort": "qualified", "cursor": "bm9wZQ"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"
    wrong = admin.get("/api/queues/sales", params={"sort": "age"})
    assert wrong.status_code == 422


def test_unscored_leads_come_last_by_score(admin: Client) -> None:
    first = ready_lead(admin, topic="a")
    second = ready_lead(admin, topic="b")
    assert ids(admin, "/api/queues/sales") == [first["id"], second["id"]]
    items = admin.get("/api/queues/sales").json()["items"]
    assert [i["score"] for i in items] == [None, None]


def test_mine_means_the_leads_of_the_seller_the_key_acts_for(
    admin: Client, service: Service
) -> None:
    seller(admin, "ana")
    seller(admin, "bo")
    rule(admin, "pair", sellers=["ana", "bo"])
    to_ana = ready_lead(admin)
    ready_lead(admin)  # routed to bo
    ana = key_for(service, Role.SALESPERSON, "ana")
    assert ids(admin, "/api/queues/sales", ana, mine="true") == [to_ana["id"]]
    # Without `mine`, a salesperson still sees only the leads of their seller and team.
    assert ids(admin, "/api/queues/sales", ana, mine="false") == [to_ana["id"]]
    nobody = key_for(service, Role.SALESPERSON, None)
    refused = admin.get("/api/queues/sales", params={"mine": "true"}, headers=nobody)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "mine"
    assert "acts for no seller" in refused.json()["errors"][0]["reason"]


def test_the_teleprospecting_queue_lists_open_leads_in_its_stages(
    admin: Client, service: Service
) -> None:
    calling = admin.post("/api/leads", json={"topic": "call"}).json()
    calling = patch(
        admin, f"/api/leads/{calling['id']}", {"attributes": {"teleprospecting_ready": True}}
    )
    assert calling["stage"] == "teleprospecting_acceptance"
    accepted = admin.post("/api/leads", json={"topic": "accepted"}).json()
    admin.post("/api/sellers", json={"handle": "tess", "name": "Tess"})  # an owner is a seller
    patch(admin, f"/api/leads/{accepted['id']}", {"attributes": {"teleprospecting_ready": True}})
    accepted = patch(
        admin,
        f"/api/leads/{accepted['id']}",
        {"attributes": {"teleprospect_accepted": True}, "owner": "tess"},
    )
    assert accepted["stage"] == "teleprospecting_qualification"
    admin.post("/api/leads", json={"topic": "new"})
    dropped = admin.post("/api/leads", json={"topic": "dropped"}).json()
    patch(admin, f"/api/leads/{dropped['id']}", {"attributes": {"teleprospecting_ready": True}})
    close(admin, dropped["id"], "disqualified")
    queue = "/api/queues/teleprospecting"
    assert ids(admin, queue, sort="qualified") == [calling["id"], accepted["id"]]
    tess = key_for(service, Role.TELEPROSPECTOR, "tess")
    assert ids(admin, queue, tess, mine="true") == [accepted["id"]]
    assert lead(admin, accepted["id"])["owner"] == "tess"


def activity(client: Client, lead_id: int, subject: str, due: dt.datetime) -> dict[str, Any]:
    body = {"lead_id": lead_id, "kind": "phone_call", "subject": subject, "due_at": due.isoformat()}
    response = client.post("/api/activities", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def test_a_queue_item_carries_what_a_person_needs_to_act(admin: Client) -> None:
    model = live(admin, SCORED)
    other = live(admin, {"rules": []}, name="fit")
    ana = admin.post(
        "/api/contacts",
        json={"email": "ana@acme.com", "first_name": "Ana", "last_name": "Lopez",
              "company": "Acme", "phone": "+33 1 23 45 67 89"},
    ).json()  # fmt: skip
    hot = ready_lead(admin, topic="hot", parent_contact_id=ana["id"])
    bare = ready_lead(admin, topic="cold", email="cold@example.com")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    first = activity(admin, hot["id"], "Call Ana", soon)
    activity(admin, hot["id"], "Call Ana again", soon + dt.timedelta(hours=1))
    done = activity(admin, bare["id"], "Done already", soon - dt.timedelta(minutes=1))
    completed = admin.post(
        f"/api/activities/{done['id']}/complete", headers={"If-Match": f'"{done["version"]}"'}
    )
    assert completed.status_code == 200, completed.text

    items = {i["lead"]["id"]: i for i in admin.get("/api/queues/sales").json()["items"]}
    item = items[hot["id"]]
    assert item["contact"] == {
        "id": ana["id"], "name": "Ana Lopez", "company": "Acme", "email": "ana@acme.com",
        "phone": "+33 1 23 45 67 89",
    }  # fmt: skip
    assert (item["lead"]["topic"], item["lead"]["stage"]) == ("hot", SA)
    assert 0 <= item["seconds_in_stage"] < 600
    assert item["scores"] == [
        {"model_id": model["id"], "model": "engagement", "score": 50.0, "grade": None},
        {"model_id": other["id"], "model": "fit", "score": 0.0, "grade": None},
    ]
    assert item["next_activity"] == {
        "id": first["id"], "kind": "phone_call", "subject": "Call Ana", "owner": first["owner"],
        "due_at": first["due_at"],
    }  # fmt: skip
    # Without a contact the lead's own email is the one to write to; a done activity is not
    # next (the stage's own task, if stages.yaml makes one, is).
    plain = items[bare["id"]]
    assert plain["contact"] == {
        "id": None,
        "name": None,
        "company": None,
        "email": "cold@example.com",
        "phone": None,
    }
    assert (plain["next_activity"] or {}).get("id") != done["id"]


def test_a_queue_page_takes_the_same_queries_however_many_leads_it_holds(
    admin: Client, service: Service
) -> None:
    live(admin, SCORED)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    for n in range(6):
        contact = admin.post("/api/contacts", json={"email": f"p{n}@example.com"}).json()
        made = ready_lead(admin, topic="hot" if n % 2 else "warm", parent_contact_id=contact["id"])
        activity(admin, made["id"], "Call", dt.datetime.now(dt.UTC) + dt.timedelta(hours=n))

    def queries(limit: int) -> int:
        statements.clear()
        event.listen(service.db.engine, "before_cursor_execute", count)
        try:
            response = admin.get("/api/queues/sales", params={"limit": limit})
        finally:
            event.remove(service.db.engine, "before_cursor_execute", count)
        assert len(response.json()["items"]) == limit
        return len(statements)

    assert queries(1) == queries(6)
