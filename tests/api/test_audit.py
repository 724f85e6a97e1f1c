"""The audit log over HTTP: every path that changes a lead, contact or account field records
who, when, and old -> new, only for values that changed; erasure leaves no personal value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlmodel import select

from api.app import Service, create_app, open_service
from api.services.keys import Role, create_key
from api.settings import Settings
from api.storage.api_keys import ApiKey
from tests.api.closing import ensure_seller
from tests.api.test_assignment import rule, seller
from tests.api.test_qualification import published
from tests.api.test_scoring import interact, live
from tests.conftest import BUNDLED_STAGES, KeyMaker

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]
SA = "sales_acceptance"
AMQ = "automated_marketing_qualification"
WEBINAR = {"kind": "form", "id": "w"}
VISITS = {"type": "behaviour", "name": "visits", "kind": "page_visit", "points": 10}


@pytest.fixture
def admin(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.ADMIN))
    return app_client


def made(client: Client, path: str, body: Json) -> Json:
    response = client.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    result: Json = response.json()
    return result


def changed(client: Client, path: str, body: Json) -> Json:
    current = client.get(path)
    response = client.patch(path, json=body, headers={"If-Match": current.headers["etag"]})
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


def entries(client: Client, kind: str, ident: int) -> list[Json]:
    response = client.get(f"/api/{kind}/{ident}/audit", params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


def log(client: Client, kind: str, ident: int) -> list[tuple[str, Any, Any, str]]:
    """(field, old, new, actor) of the record's entries, oldest first."""
    return [
        (e["field"], e["old"], e["new"], e["actor"]) for e in reversed(entries(client, kind, ident))
    ]


def import_csv(client: Client, kind: str, csv: str) -> Json:
    response = client.post(
        f"/api/imports/{kind}", content=csv.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


# -- by hand --------------------------------------------------------------------------------


def test_a_change_by_hand_records_who_when_and_old_to_new_only_for_what_changed(
    app_client: Client, auth: KeyMaker, service: Service
) -> None:
    app_client.headers.update(auth(Role.ADMIN))
    lead = made(app_client, "/api/leads", {"topic": "Pricing", "attributes": {"budget_amount": 10}})
    assert entries(app_client, "leads", lead["id"]) == []  # a create is not a change

    path = f"/api/leads/{lead['id']}"
    changed(app_client, path, {"topic": "Pricing for 50", "attributes": {"budget_amount": 20}})
    changed(app_client, path, {"topic": "Pricing for 50", "attributes": {"budget_amount": 20}})
    app_client.post("/api/sellers", json={"handle": "ana", "name": "Ana"})
    changed(app_client, path, {"owner": "ana", "attributes": {"budget_amount": None}})

    assert log(app_client, "leads", lead["id"]) == [
        ("attributes.budget_amount", 10, 20, "user"),
        ("topic", "Pricing", "Pricing for 50", "user"),
        ("attributes.budget_amount", 20, None, "user"),
        ("owner", None, "ana", "user"),
    ]
    with service.db.read() as session:
        key = session.exec(select(ApiKey).where(ApiKey.name == "admin tester")).one()
    newest = entries(app_client, "leads", lead["id"])[0]
    assert (newest["actor_name"], newest["actor_key_id"]) == ("admin tester", key.id)
    assert newest["redacted"] is False
    assert newest["at"] >= lead["updated_at"]


def test_a_field_that_fires_an_automation_records_the_stage_too(client: Client) -> None:
    lead = made(client, "/api/leads", {"topic": "t"})
    changed(client, f"/api/leads/{lead['id']}", {"sales_ready": True})
    assert log(client, "leads", lead["id"]) == [
        ("sales_ready", False, True, "user"),
        ("stage", "inquiry", SA, "user"),
    ]


def test_a_move_records_the_stage(client: Client) -> None:
    lead = made(client, "/api/leads", {"topic": "t"})
    moved = client.post(
        f"/api/leads/{lead['id']}/stage",
        json={"to": SA, "reason": "called back"},
        headers={"If-Match": f'"{lead["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    assert log(client, "leads", lead["id"]) == [("stage", "inquiry", SA, "user")]


def test_contacts_and_accounts_record_changes_consent_and_links_a_deletion_cuts(
    app_client: Client, auth: KeyMaker
) -> None:
    app_client.headers.update(auth(Role.MARKETER))
    account = made(app_client, "/api/accounts", {"name": "Acme", "employees": 10})
    other = made(app_client, "/api/accounts", {"name": "Other"})
    person = made(
        app_client, "/api/contacts", {"email": "ana@example.com", "account_id": other["id"]}
    )
    lead = made(app_client, "/api/leads", {"topic": "t", "parent_contact_id": person["id"]})
    contact_path = f"/api/contacts/{person['id']}"
    changed(app_client, contact_path, {"first_name": "Ana", "account_id": account["id"]})
    changed(app_client, contact_path, {"first_name": "Ana"})
    made(app_client, f"{contact_path}/consent", {"level": "marketing", "source": "call"})
    made(app_client, f"{contact_path}/consent", {"level": "marketing", "source": "call"})
    changed(app_client, f"/api/accounts/{account['id']}", {"employees": 12, "name": "Acme"})
    assert log(app_client, "contacts", person["id"]) == [
        ("account_id", other["id"], account["id"], "user"),
        ("first_name", None, "Ana", "user"),
        ("consent_level", "none", "marketing", "user"),
    ]
    assert log(app_client, "accounts", account["id"]) == [("employees", 10, 12, "user")]

    deleted = app_client.delete(f"/api/accounts/{account['id']}", headers={"If-Match": f'"{2}"'})
    assert deleted.status_code == 204, deleted.text
    assert log(app_client, "contacts", person["id"])[-1] == (
        "account_id",
        account["id"],
        None,
        "user",
    )
    current = app_client.get(contact_path).headers["etag"]
    assert app_client.delete(contact_path, headers={"If-Match": current}).status_code == 204
    assert log(app_client, "leads", lead["id"]) == [
        ("parent_contact_id", person["id"], None, "user")
    ]


def test_the_log_pages_newest_first_and_404s_for_an_unknown_record(client: Client) -> None:
    lead = made(client, "/api/leads", {"topic": "t0"})
    for n in range(1, 6):
        changed(client, f"/api/leads/{lead['id']}", {"topic": f"t{n}"})
    seen: list[str] = []
    cursor = None
    while True:
        params: Json = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/leads/{lead['id']}/audit", params=params).json()
        seen += [e["new"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t5", "t4", "t3", "t2", "t1"]
    for kind in ("leads", "contacts", "accounts"):
        missing = client.get(f"/api/{kind}/999999/audit")
        assert missing.status_code == 404, (kind, missing.text)
    bad = client.get(f"/api/leads/{lead['id']}/audit", params={"cursor": "nope"})
    assert bad.status_code in (400, 422), bad.text
    assert client.get(f"/api/leads/{lead['id']}/audit", params={"limit": 201}).status_code == 422


def test_every_role_that_reads_a_record_reads_its_log(app_client: Client, auth: KeyMaker) -> None:
    owner = auth(Role.MARKETER)
    lead = app_client.post("/api/leads", json={"topic": "t"}, headers=owner).json()
    person = app_client.post("/api/contacts", json={}, headers=owner).json()
    account = app_client.post("/api/accounts", json={"name": "A"}, headers=owner).json()
    for role in Role:
        headers = auth(role)
        for kind, record in (("leads", lead), ("contacts", person), ("accounts", account)):
            answer = app_client.get(f"/api/{kind}/{record['id']}/audit", headers=headers)
            # A lead nobody owns, in no teleprospecting stage, is hidden from those who work leads.
            hidden = kind == "leads" and role in (Role.TELEPROSPECTOR, Role.SALESPERSON)
            assert answer.status_code == (404 if hidden else 200), (role, kind, answer.text)
    assert app_client.get(f"/api/leads/{lead['id']}/audit").status_code == 401


# -- capture --------------------------------------------------------------------------------


def test_form_event_and_lead_gen_captures_record_what_they_change(
    app_client: Client, auth: KeyMaker
) -> None:
    app_client.headers.update(auth(Role.MARKETER))
    made(app_client, "/api/forms", {"id": "webinar", "name": "Webinar"})
    made(app_client, "/api/forms", {"id": "summit", "name": "Summit", "kind": "event"})
    first = made(
        app_client,
        "/api/forms/webinar/submissions",
        {"fields": {"email": "ana@example.com", "first_name": "Ana", "size": 10}},
    )
    contact_id, lead_id = first["contact"]["id"], first["lead"]["id"]
    assert log(app_client, "contacts", contact_id) == []
    assert log(app_client, "leads", lead_id) == []

    made(
        app_client,
        "/api/forms/webinar/submissions",
        {
            "fields": {"email": "ana@example.com", "first_name": "Ana", "size": 12},
            "consent": {"level": "marketing", "source": "webinar"},
        },
    )
    assert log(app_client, "contacts", contact_id) == [
        ("consent_level", "none", "marketing", "user")
    ]
    assert log(app_client, "leads", lead_id) == [("attributes.size", 10, 12, "user")]

    registered = made(
        app_client,
        "/api/events/summit/registrations",
        {"fields": {"email": "ana@example.com", "company": "Acme"}},
    )
    assert registered["contact"]["id"] == contact_id
    assert log(app_client, "contacts", contact_id)[-1] == ("company", None, "Acme", "user")

    made(
        app_client,
        "/api/leadgen/sources",
        {
            "id": "linkedin",
            "form_id": "webinar",
            "mapping": {"email": "email", "job_title": "title", "size": "size"},
        },
    )
    made(
        app_client,
        "/api/leadgen/linkedin",
        {"email": "ana@example.com", "title": "CTO", "size": 12},
    )
    assert log(app_client, "contacts", contact_id)[-1] == ("job_title", None, "CTO", "user")
    assert log(app_client, "leads", lead_id) == [("attributes.size", 10, 12, "user")]


# -- imports --------------------------------------------------------------------------------


def test_imports_record_the_updates_of_stored_records_and_a_second_run_none(
    app_client: Client, auth: KeyMaker
) -> None:
    ensure_seller(app_client, "bo", auth(Role.ADMIN))
    app_client.headers.update(auth(Role.MARKETER))
    account = made(app_client, "/api/accounts", {"name": "Acme", "country": "Spain"})
    person = made(app_client, "/api/contacts", {"email": "ana@example.com", "first_name": "A"})
    lead = made(
        app_client,
        "/api/leads",
        {"topic": "t", "email": "ana@example.com", "marketing_context": WEBINAR},
    )

    accounts = "name,country\nAcme,France\nNew Co,Chile\n"
    contacts = "email,first_name,job_title,consent_level\nana@example.com,Ana,CTO,marketing\n"
    leads = (
        "email,topic,context_kind,context_id,owner,budget_amount\nana@example.com,t,form,w,bo,30\n"
    )
    for _ in range(2):
        import_csv(app_client, "accounts", accounts)
        import_csv(app_client, "contacts", contacts)
        import_csv(app_client, "leads", leads)

    assert log(app_client, "accounts", account["id"]) == [("country", "Spain", "France", "user")]
    assert log(app_client, "contacts", person["id"]) == [
        ("consent_level", "none", "marketing", "user"),
        ("first_name", "A", "Ana", "user"),
        ("job_title", None, "CTO", "user"),
    ]
    assert log(app_client, "leads", lead["id"]) == [
        ("attributes.budget_amount", None, 30, "user"),
        ("owner", None, "bo", "user"),
    ]
    assert entries(app_client, "leads", lead["id"])[0]["actor_name"] == "marketer tester"


def test_an_import_that_moves_a_lead_records_the_stage(admin: Client) -> None:
    lead = made(
        admin, "/api/leads", {"topic": "t", "email": "bo@example.com", "marketing_context": WEBINAR}
    )
    import_csv(
        admin,
        "leads",
        "email,topic,context_kind,context_id,sales_ready\nbo@example.com,t,form,w,true\n",
    )
    assert log(admin, "leads", lead["id"]) == [
        ("sales_ready", False, True, "user"),
        ("stage", "inquiry", SA, "user"),
    ]


# -- scoring, qualification, routing, disposition ---------------------------------------------


def test_scoring_outcomes_and_routing_record_as_their_actors(admin: Client) -> None:
    seller(admin, "ana")
    rule(admin, "all", sellers=["ana"])
    scored_in_full = made(admin, "/api/leads", {"topic": "t"})
    interact(
        admin,
        {
            "kind": "page_visit",
            "lead_id": scored_in_full["id"],
            "occurred_at": "2026-11-01T10:00:00Z",
        },
    )
    live(admin, {"rules": [VISITS], "sales_ready_score": 20})
    assert log(admin, "leads", scored_in_full["id"]) == [("stage", "inquiry", AMQ, "scoring")]

    interact(
        admin,
        {
            "kind": "page_visit",
            "lead_id": scored_in_full["id"],
            "occurred_at": "2026-11-02T10:00:00Z",
        },
    )
    assert log(admin, "leads", scored_in_full["id"])[1:] == [
        ("sales_ready", False, True, "scoring"),
        ("stage", AMQ, SA, "scoring"),
        ("owner", None, "ana", "scoring"),
    ]


def test_qualification_records_status_reason_and_stage(admin: Client) -> None:
    live(admin, {"rules": [VISITS]}, "engagement")
    published(admin, {"model": "engagement", "score_at_least": 10})
    lead = made(admin, "/api/leads", {"topic": "t"})
    interact(
        admin, {"kind": "page_visit", "lead_id": lead["id"], "occurred_at": "2026-11-01T10:00:00Z"}
    )
    assert log(admin, "leads", lead["id"]) == [
        ("stage", "inquiry", AMQ, "scoring"),
        ("status_reason", "new", "marketing_qualified", "qualification"),
    ]


def test_disposition_records_status_and_reason(client: Client) -> None:
    lead = made(client, "/api/leads", {"topic": "t"})
    closed = client.post(
        f"/api/leads/{lead['id']}/disqualify",
        json={"reason": "lost"},
        headers={"If-Match": f'"{lead["version"]}"'},
    )
    assert closed.status_code == 200, closed.text
    reopened = client.post(
        f"/api/leads/{lead['id']}/reopen",
        json={},
        headers={"If-Match": closed.headers["etag"]},
    )
    assert reopened.status_code == 200, reopened.text
    assert log(client, "leads", lead["id"]) == [
        ("status", "open", "disqualified", "user"),
        ("status_reason", "new", "lost", "user"),
        ("status", "disqualified", "open", "user"),
        ("status_reason", "lost", "new", "user"),
    ]


def test_a_renamed_stage_records_the_leads_moved_as_the_system(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "stages.yaml"
    path.write_text(BUNDLED_STAGES.read_text())
    service = open_service(
        Settings(database_url=database_url, stages_file=path, periodic_jobs=False)
    )
    try:
        with TestClient(create_app(service)) as client:
            with service.db.write() as session:
                _, secret = create_key(session, Role.ADMIN, "admin")
            client.headers["Authorization"] = f"Bearer {secret}"
            lead = made(client, "/api/leads", {"topic": "t", "sales_ready": True})
            renamed = BUNDLED_STAGES.read_text().replace(SA, "sales_review")
            renamed = renamed.replace(
                "    automations:", f"    renamed:\n      {SA}: sales_review\n    automations:"
            )
            path.write_text(renamed)
            assert client.post("/api/processes/reload").status_code == 200
            assert log(client, "leads", lead["id"]) == [("stage", SA, "sales_review", "system")]
    finally:
        service.db.dispose()


# -- erasure --------------------------------------------------------------------------------

PERSONAL = [
    "ana.lima@example.com",
    "Ana",
    "Lima",
    "+351 555 0100",
    "Ana's pricing question",
    "Lisbon HQ",
]


def test_erasure_leaves_no_personal_value_of_the_person_in_the_log(
    app_client: Client, auth: KeyMaker, service: Service
) -> None:
    app_client.headers.update(auth(Role.MARKETER))
    person = made(app_client, "/api/contacts", {"email": "old@example.com"})
    twin = made(app_client, "/api/contacts", {"email": "ana.lima@example.com"})
    lead = made(app_client, "/api/leads", {"topic": "t", "parent_contact_id": person["id"]})
    by_email = made(app_client, "/api/leads", {"topic": "u", "email": "ana.lima@example.com"})
    kept = made(app_client, "/api/leads", {"topic": "someone else"})
    changed(
        app_client,
        f"/api/contacts/{person['id']}",
        {"email": "ana.lima@example.com", "first_name": "Ana", "last_name": "Lima"},
    )
    changed(app_client, f"/api/contacts/{twin['id']}", {"phone": "+351 555 0100"})
    changed(
        app_client,
        f"/api/leads/{lead['id']}",
        {"topic": "Ana's pricing question", "attributes": {"call_notes": "Lisbon HQ"}},
    )
    changed(app_client, f"/api/leads/{by_email['id']}", {"topic": "Ana's pricing question"})
    changed(app_client, f"/api/leads/{lead['id']}", {"sales_ready": True})
    changed(app_client, f"/api/leads/{kept['id']}", {"topic": "still here"})

    def dump() -> str:
        with service.db.read() as session:
            rows = session.execute(text("SELECT * FROM audit_entry")).mappings()
            return json.dumps([dict(r) for r in rows], default=str)

    assert all(value in dump() for value in PERSONAL)
    erased = app_client.post(f"/api/contacts/{person['id']}/erasure")
    assert erased.status_code == 200, erased.text
    left = dump()
    assert [value for value in PERSONAL if value in left] == []
    assert "old@example.com" not in left
    # Who changed what and when stays, and how the company worked the lead.
    with service.db.read() as session:
        rows = session.execute(
            text(
                "SELECT field, redacted FROM audit_entry WHERE entity = 'lead' AND entity_id = :i"
            ),
            {"i": lead["id"]},
        ).all()
    assert sorted(rows) == [
        ("attributes.call_notes", True),
        ("sales_ready", False),
        ("stage", False),
        ("topic", True),
    ]
    assert log(app_client, "leads", kept["id"]) == [("topic", "someone else", "still here", "user")]
