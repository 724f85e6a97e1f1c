"""Disposition over HTTP: qualifying a lead into an opportunity, disqualifying it with a reason,
reopening it; its history, its activities, and erasure of the person."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from sqlmodel import select

from api.app import Service
from api.services import keys
from api.services.keys import Role
from leads.activities import Activity
from leads.models import STATUS_REASONS, LeadStatus
from leads.opportunities import Opportunity
from tests.api.closing import ensure_seller, ready_to_qualify
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]


def create(client: Client, **fields: Any) -> Json:
    if fields.get("owner") is not None:
        ensure_seller(client, fields["owner"])
    response = client.post("/api/leads", json={"topic": "Pricing webinar", **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def act(client: Client, lead: Json, action: str, body: Json | None = None, version: Any = None):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/leads/{lead['id']}/{action}",
        json=body,
        headers={"If-Match": f'"{version if version is not None else lead["version"]}"'},
    )


def activities(client: Client, lead_id: int) -> list[Json]:
    return client.get(f"/api/leads/{lead_id}/activities").json()["items"]  # type: ignore[no-any-return]


def test_qualifying_makes_an_opportunity_and_closes_the_lead(client: Client) -> None:
    account = client.post("/api/accounts", json={"name": "Contoso"}).json()
    contact = client.post(
        "/api/contacts", json={"email": "ana@contoso.com", "account_id": account["id"]}
    ).json()
    lead = create(client, owner="sam", parent_contact_id=contact["id"], sales_ready=True)
    [review] = activities(client, lead["id"])
    lead = ready_to_qualify(client, lead["id"])
    response = act(
        client,
        lead,
        "qualify",
        {"estimated_value": "25000.50", "currency": "EUR", "estimated_close_date": "2027-03-31"},
    )
    assert response.status_code == 201, response.text
    result = response.json()
    opportunity = result["opportunity"]
    assert response.headers["location"] == f"/api/opportunities/{opportunity['id']}"
    assert response.headers["etag"] == f'"{lead["version"] + 1}"'
    assert {k: opportunity[k] for k in ("name", "lead_id", "contact_id", "account_id")} == {
        "name": "Pricing webinar",
        "lead_id": lead["id"],
        "contact_id": contact["id"],
        "account_id": account["id"],  # the contact's account: the lead names none
    }
    assert (opportunity["estimated_value"], opportunity["currency"]) == (25000.5, "EUR")
    assert (opportunity["status"], opportunity["owner"]) == ("open", "sam")
    assert opportunity["estimated_close_date"] == "2027-03-31"

    read = client.get(f"/api/leads/{lead['id']}")
    assert (read.json()["status"], read.json()["status_reason"]) == ("qualified", "qualified")
    assert read.json()["version"] == lead["version"] + 1 == result["lead"]["version"]

    # Its open review task was canceled, saying why and by whom.
    [canceled] = result["canceled_activities"]
    assert canceled["id"] == review["id"]
    [review] = activities(client, lead["id"])
    assert (review["status"], review["outcome"], review["canceled_by"]) == (
        "canceled",
        "lead closed",
        "admin tester",
    )

    [history] = client.get(f"/api/leads/{lead['id']}/dispositions").json()["items"]
    assert {k: history[k] for k in ("from_status", "status", "status_reason", "actor")} == {
        "from_status": "open",
        "status": "qualified",
        "status_reason": "qualified",
        "actor": "user",
    }
    assert (history["actor_name"], history["opportunity_id"]) == (
        "admin tester",
        opportunity["id"],
    )

    got = client.get(f"/api/opportunities/{opportunity['id']}")
    assert got.status_code == 200 and got.json() == opportunity
    assert got.headers["etag"] == '"1"'
    listed = client.get(f"/api/opportunities?lead_id={lead['id']}").json()["items"]
    assert listed == [opportunity]
    assert client.get("/api/opportunities?owner=nobody").json()["items"] == []
    assert client.get(f"/api/opportunities?account_id={account['id']}").json()["items"] == [
        opportunity
    ]
    assert client.get("/api/opportunities/999").status_code == 404


def test_a_name_given_wins_and_a_lead_without_parents_makes_an_unlinked_opportunity(
    client: Client,
) -> None:
    lead = ready_to_qualify(client, create(client)["id"], owner="tom")
    result = act(
        client, lead, "qualify", {"estimated_value": 100, "currency": "USD", "name": "Pilot"}
    ).json()
    opportunity = result["opportunity"]
    assert (opportunity["name"], opportunity["contact_id"], opportunity["account_id"]) == (
        "Pilot",
        None,
        None,
    )
    assert opportunity["owner"] == "tom" and opportunity["estimated_value"] == 100


def test_only_an_open_lead_is_qualified_or_disqualified(client: Client) -> None:
    lead = create(client)
    done = act(client, lead, "disqualify", {"reason": "cannot_contact", "note": "No answer x3"})
    assert done.status_code == 200, done.text
    lead = done.json()["lead"]
    assert (lead["status"], lead["status_reason"]) == ("disqualified", "cannot_contact")
    for action, body in [
        ("qualify", {"estimated_value": 1, "currency": "EUR"}),
        ("disqualify", {"reason": "lost"}),
    ]:
        refused = act(client, lead, action, body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["current_status"] == "disqualified"
        assert "is disqualified (cannot_contact); only an open lead can" in refused.json()["detail"]
    with_opportunity = ready_to_qualify(client, create(client)["id"])
    qualified = act(client, with_opportunity, "qualify", {"estimated_value": 1, "currency": "EUR"})
    refused = act(client, qualified.json()["lead"], "disqualify", {"reason": "lost"})
    assert refused.status_code == 409
    assert refused.json()["current_status"] == "qualified"
    assert len(client.get("/api/opportunities").json()["items"]) == 1


def test_a_bad_or_stale_request_changes_nothing(client: Client) -> None:
    lead = create(client, sales_ready=True)
    bad = [
        ({"estimated_value": -5, "currency": "EUR"}, "estimated_value"),
        ({"estimated_value": "1.234", "currency": "EUR"}, "estimated_value"),
        ({"estimated_value": 5, "currency": "euro"}, "currency"),
        ({"currency": "EUR"}, "estimated_value"),
        ({"estimated_value": 5, "currency": "EUR", "stage": "won"}, "stage"),
        (
            {"estimated_value": 5, "currency": "EUR", "estimated_close_date": "soon"},
            "estimated_close_date",
        ),
    ]
    for body, field in bad:
        response = act(client, lead, "qualify", body)
        assert response.status_code in (400, 422), (body, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.text
    refused = act(client, lead, "disqualify", {"reason": "bored"})
    assert refused.status_code in (400, 422)
    assert "reason" in {e["field"] for e in refused.json()["errors"]}
    assert act(client, lead, "disqualify", {"reason": "lost"}, version=99).status_code == 412
    response = client.post(f"/api/leads/{lead['id']}/disqualify", json={"reason": "lost"})
    assert response.status_code == 428
    assert (
        act(client, {"id": 999, "version": 1}, "disqualify", {"reason": "lost"}).status_code == 404
    )

    read = client.get(f"/api/leads/{lead['id']}").json()
    assert (read["status"], read["version"]) == ("open", lead["version"])
    assert client.get("/api/opportunities").json()["items"] == []
    assert client.get(f"/api/leads/{lead['id']}/dispositions").json()["items"] == []
    assert [a["status"] for a in activities(client, lead["id"])] == ["open"]


def test_every_disqualification_reason_is_taken(client: Client) -> None:
    for reason in STATUS_REASONS[LeadStatus.DISQUALIFIED]:
        lead = create(client)
        response = act(client, lead, "disqualify", {"reason": reason})
        assert response.status_code == 200, response.text
        assert response.json()["lead"]["status_reason"] == reason
        assert response.json()["disposition"]["status_reason"] == reason


def test_a_disqualified_lead_can_be_reopened_and_worked_again(client: Client) -> None:
    lead = create(client, owner="tom", attributes={"teleprospecting_ready": True})
    [call] = activities(client, lead["id"])
    closed = act(client, lead, "disqualify", {"reason": "no_longer_interested"}).json()
    assert [a["id"] for a in closed["canceled_activities"]] == [call["id"]]
    assert closed["opportunity"] is None

    reopened = act(client, closed["lead"], "reopen", {"note": "Called back, interested again"})
    assert reopened.status_code == 200, reopened.text
    lead = reopened.json()["lead"]
    assert (lead["status"], lead["status_reason"], lead["stage"]) == (
        "open",
        "new",
        "teleprospecting_acceptance",
    )
    assert reopened.json()["canceled_activities"] == []
    # The canceled call stays canceled; the lead can be worked and closed again.
    assert [a["status"] for a in activities(client, lead["id"])] == ["canceled"]
    again = act(client, lead, "reopen")
    assert again.status_code == 409
    assert "only a disqualified lead can be reopened" in again.json()["detail"]
    lead = ready_to_qualify(client, lead["id"])
    qualified = act(client, lead, "qualify", {"estimated_value": 10, "currency": "GBP"}).json()
    refused = act(client, qualified["lead"], "reopen")
    assert refused.status_code == 409
    assert (
        f"work on opportunity {qualified['opportunity']['id']} instead" in refused.json()["detail"]
    )

    history = client.get(f"/api/leads/{lead['id']}/dispositions").json()["items"]
    assert [(h["from_status"], h["status"], h["status_reason"], h["note"]) for h in history] == [
        ("open", "disqualified", "no_longer_interested", None),
        ("disqualified", "open", "new", "Called back, interested again"),
        ("open", "qualified", "qualified", None),
    ]
    assert all(h["actor_name"] == "admin tester" for h in history)
    assert client.get("/api/leads/999/dispositions").status_code == 404


def test_salespeople_and_teleprospectors_close_leads_and_marketers_read(
    app_client: Client, auth: KeyMaker, service: Service
) -> None:
    app_client.headers.update(auth(Role.MARKETER))
    lead = create(app_client)
    for action, body in [
        ("qualify", {"estimated_value": 1, "currency": "EUR"}),
        ("disqualify", {"reason": "lost"}),
        ("reopen", None),
    ]:
        assert act(app_client, lead, action, body).status_code == 403
    assert app_client.get(f"/api/leads/{lead['id']}/dispositions").status_code == 200
    assert app_client.get("/api/opportunities").status_code == 200
    # A teleprospector qualifies a lead of their own in Sales acceptance.
    admin = auth(Role.ADMIN)
    seller = app_client.post("/api/sellers", json={"handle": "tina", "name": "Tina"}, headers=admin)
    assert seller.status_code == 201, seller.text
    ready = ready_to_qualify(app_client, lead["id"], owner="tina", headers=admin)
    with service.db.write() as session:
        _, secret = keys.create_key(session, Role.TELEPROSPECTOR, "tina's key", seller="tina")
    app_client.headers.update({"Authorization": f"Bearer {secret}"})
    done = act(app_client, ready, "qualify", {"estimated_value": 1, "currency": "EUR"})
    assert done.status_code == 201, done.text
    assert done.json()["disposition"]["actor_name"] == "tina's key"


def test_erasing_the_person_removes_activities_and_unlinks_opportunities(
    app_client: Client, auth: KeyMaker, service: Service
) -> None:
    app_client.headers.update(auth(Role.ADMIN))
    ana = app_client.post("/api/contacts", json={"email": "ana@example.com"}).json()
    topic = "Ana Lima wants a quote"
    lead = create(app_client, topic=topic, parent_contact_id=ana["id"], sales_ready=True)
    other = create(app_client, topic="Bo", sales_ready=True)
    body = {
        "lead_id": lead["id"],
        "kind": "phone_call",
        "subject": "Call Ana Lima",
        "description": "+34 600 000 000",
        "due_in": "1d",
    }
    assert app_client.post("/api/activities", json=body).status_code == 201
    lead = ready_to_qualify(app_client, lead["id"])
    first = act(app_client, lead, "qualify", {"estimated_value": 500, "currency": "EUR"}).json()
    second_lead = create(app_client, topic="Ana again", parent_contact_id=ana["id"])
    second_lead = ready_to_qualify(app_client, second_lead["id"])
    named = act(
        app_client,
        second_lead,
        "qualify",
        {"estimated_value": 900, "currency": "EUR", "name": "Contoso renewal"},
    ).json()

    app_client.headers.update(auth(Role.MARKETER))
    assert app_client.post(f"/api/contacts/{ana['id']}/erasure").status_code in (200, 201)

    with service.db.read() as session:
        left = session.exec(select(Activity)).all()
        assert [a.lead_id for a in left] == [other["id"]]
        assert not any("Ana" in (a.subject + (a.description or "")) for a in left)
        kept = {o.id: o for o in session.exec(select(Opportunity)).all()}
    taken, renewal = kept[first["opportunity"]["id"]], kept[named["opportunity"]["id"]]
    assert (taken.name, taken.lead_id, taken.contact_id) == (
        "opportunity of an erased person",
        None,
        None,
    )
    assert (renewal.name, renewal.lead_id, renewal.contact_id) == ("Contoso renewal", None, None)
    assert taken.estimated_value_cents == 50000 and taken.version == 2
    read = app_client.get(f"/api/opportunities/{taken.id}").json()
    assert topic not in str(read)
