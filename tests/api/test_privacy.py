"""Erasure over HTTP: a person's data goes in one go, and they come back only with consent."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlmodel import col, func, select

from api.app import Service
from api.services import privacy_export
from api.services.keys import Role
from api.services.schemas.privacy import ContactExport
from leads.models import ConsentChange, ErasedPerson, Interaction, StageChange
from leads.opportunities import Opportunity
from tests.api.test_scoring import OPENS, SA, live
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]

EMAIL = "ana.lima@example.com"
WHEN = "2026-01-15T10:00:00+00:00"


@pytest.fixture
def marketer(app_client: Client, auth: KeyMaker) -> Client:
    """A client that calls as a marketer: the role that may erase people."""
    app_client.headers.update(auth(Role.MARKETER))
    return app_client


def post(client: Client, url: str, body: Json) -> Json:
    response = client.post(url, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def erase(client: Client, contact: Json) -> Any:
    return client.post(f"/api/contacts/{contact['id']}/erasure")


def record_interactions(client: Client, *items: Json) -> list[int]:
    body = {"interactions": [{"kind": "page_visit", "occurred_at": WHEN, **i} for i in items]}
    return [a["id"] for a in post(client, "/api/interactions", body)["accepted"]]


def problem_fields(response: Any) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def count(service: Service, model: Any, *where: Any) -> int:
    with service.db.read() as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def erased_rows(service: Service) -> list[dict[str, Any]]:
    with service.db.read() as session:
        return [dict(row._mapping) for row in session.execute(text("SELECT * FROM erased_person"))]


def status(client: Client, url: str) -> int:
    return client.get(url).status_code


def test_erasure_removes_the_person_their_leads_interactions_consent_and_history(
    marketer: Client, service: Service
) -> None:
    ana = post(
        marketer,
        "/api/contacts",
        {"email": EMAIL, "consent": {"level": "marketing", "source": "form"}},
    )
    post(marketer, f"/api/contacts/{ana['id']}/consent", {"level": "none", "source": "call"})
    bo = post(marketer, "/api/contacts", {"email": "bo@example.com"})
    by_parent = post(
        marketer, "/api/leads", {"topic": "a", "parent_contact_id": ana["id"], "sales_ready": True}
    )
    by_email = post(marketer, "/api/leads", {"topic": "b", "email": EMAIL.upper()})
    moved = marketer.post(
        f"/api/leads/{by_email['id']}/stage", json={"action": "next"}, headers={"If-Match": '"1"'}
    )
    assert moved.status_code == 200
    other_lead = post(marketer, "/api/leads", {"topic": "c", "parent_contact_id": bo["id"]})
    ana_interactions = record_interactions(
        marketer,
        {"contact_id": ana["id"]},
        {"lead_id": by_parent["id"]},
        {"lead_id": by_email["id"]},
        {"contact_id": ana["id"], "lead_id": by_parent["id"], "kind": "email_open"},
    )
    [bo_interaction] = record_interactions(marketer, {"lead_id": other_lead["id"]})
    erased_leads = [by_parent["id"], by_email["id"]]
    assert count(service, StageChange, col(StageChange.lead_id).in_(erased_leads)) == 2
    assert count(service, ConsentChange, col(ConsentChange.contact_id) == ana["id"]) == 2

    response = erase(marketer, ana)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["contact_id"], answer["leads"], answer["interactions"]) == (ana["id"], 2, 4)
    assert status(marketer, f"/api/contacts/{ana['id']}") == 404
    assert [status(marketer, f"/api/leads/{i}") for i in erased_leads] == [404, 404]
    listed = marketer.get("/api/interactions").json()["items"]
    assert [i["id"] for i in listed] == [bo_interaction]
    assert not set(ana_interactions) & {i["id"] for i in listed}
    assert count(service, Interaction) == 1
    assert count(service, ConsentChange, col(ConsentChange.contact_id) == ana["id"]) == 0
    assert count(service, StageChange, col(StageChange.lead_id).in_(erased_leads)) == 0
    assert status(marketer, f"/api/contacts/{bo['id']}") == 200
    assert status(marketer, f"/api/leads/{other_lead['id']}") == 200


def test_the_blocklist_keeps_a_keyed_digest_and_never_the_email(
    marketer: Client, service: Service
) -> None:
    ana = post(marketer, "/api/contacts", {"email": EMAIL, "first_name": "Ana"})
    assert erase(marketer, ana).status_code == 200
    [row] = erased_rows(service)
    assert set(row) == {"digest", "erased_at"}
    assert re.fullmatch(r"[0-9a-f]{64}", row["digest"])
    # Keyed: not the plain hash anyone could compute from a list of addresses.
    assert row["digest"] != hashlib.sha256(EMAIL.encode()).hexdigest()
    with service.db.read() as session:
        assert session.get(ErasedPerson, row["digest"]) is not None


def test_an_erased_person_cannot_be_created_again_without_consent(marketer: Client) -> None:
    ana = post(marketer, "/api/contacts", {"email": EMAIL})
    assert erase(marketer, ana).status_code == 200
    refusals = [
        marketer.post("/api/contacts", json={"email": EMAIL}),
        marketer.post("/api/contacts", json={"email": "  Ana.LIMA@Example.com"}),
        marketer.post(
            "/api/contacts", json={"email": EMAIL, "consent": {"level": "none", "source": "x"}}
        ),
        marketer.post("/api/leads", json={"topic": "x", "email": EMAIL.upper()}),
    ]
    for response in refusals:
        assert response.status_code == 409, response.text
        assert response.json()["type"] == "urn:leadflow:problem:erased-person"
        assert set(problem_fields(response)) == {"email"}
    assert marketer.get("/api/contacts").json()["items"] == []
    assert marketer.get("/api/leads").json()["items"] == []


def test_an_existing_record_cannot_take_an_erased_persons_email(marketer: Client) -> None:
    ana = post(marketer, "/api/contacts", {"email": EMAIL})
    lead = post(marketer, "/api/leads", {"topic": "x"})
    other = post(marketer, "/api/contacts", {"email": "someone@example.com"})
    assert erase(marketer, ana).status_code == 200
    for url, record in (
        (f"/api/leads/{lead['id']}", lead),
        (f"/api/contacts/{other['id']}", other),
    ):
        response = marketer.patch(url, json={"email": EMAIL.upper()}, headers={"If-Match": '"1"'})
        assert response.status_code == 409, (url, response.text)
        assert set(problem_fields(response)) == {"email"}
        assert marketer.get(url).json() == record


def test_an_erased_person_comes_back_with_consent_and_leaves_the_blocklist(
    marketer: Client, service: Service
) -> None:
    ana = post(marketer, "/api/contacts", {"email": EMAIL})
    assert erase(marketer, ana).status_code == 200
    consent = {"level": "transactional", "source": "form:signup"}
    back = post(marketer, "/api/contacts", {"email": EMAIL.upper(), "consent": consent})
    assert back["email"] == EMAIL and back["consent_level"] == "transactional"
    assert erased_rows(service) == []
    post(marketer, "/api/leads", {"topic": "welcome back", "email": EMAIL})
    post(marketer, "/api/contacts", {"email": EMAIL})


def test_erasing_a_person_without_email_blocks_nobody(marketer: Client, service: Service) -> None:
    anonymous = post(marketer, "/api/contacts", {"first_name": "Ana"})
    response = erase(marketer, anonymous)
    assert response.status_code == 200
    assert (response.json()["leads"], response.json()["interactions"]) == (0, 0)
    assert erased_rows(service) == []


def test_erasing_twice_or_an_unknown_contact_is_404(marketer: Client) -> None:
    ana = post(marketer, "/api/contacts", {"email": EMAIL})
    assert erase(marketer, ana).status_code == 200
    again = erase(marketer, ana)
    assert again.status_code == 404
    assert again.json()["detail"] == f"there is no contact {ana['id']}"
    assert marketer.post("/api/contacts/999/erasure").status_code == 404


def test_only_marketers_and_admins_may_erase(app_client: Client, auth: KeyMaker) -> None:
    app_client.headers.update(auth(Role.ADMIN))
    for role in Role:
        headers = auth(role)
        contact = post(app_client, "/api/contacts", {"email": f"{role.value}@example.com"})
        lead = post(app_client, "/api/leads", {"topic": "x", "parent_contact_id": contact["id"]})
        response = app_client.post(f"/api/contacts/{contact['id']}/erasure", headers=headers)
        allowed = role in (Role.MARKETER, Role.ADMIN)
        assert response.status_code == (200 if allowed else 403), role
        still_there = 404 if allowed else 200
        assert app_client.get(f"/api/contacts/{contact['id']}").status_code == still_there
        assert app_client.get(f"/api/leads/{lead['id']}").status_code == still_there


def test_erasure_covers_every_contact_record_of_the_person(
    app_client: TestClient, auth: KeyMaker
) -> None:  # type: ignore[type-arg]
    headers = auth(Role.MARKETER)
    first = app_client.post(
        "/api/contacts", json={"email": "twice@example.com"}, headers=headers
    ).json()
    second = app_client.post(
        "/api/contacts", json={"email": "TWICE@example.com", "first_name": "T"}, headers=headers
    ).json()
    other = app_client.post(
        "/api/contacts", json={"email": "someone@example.com"}, headers=headers
    ).json()
    erased = app_client.post(f"/api/contacts/{first['id']}/erasure", headers=headers)
    assert erased.status_code == 200
    assert app_client.get(f"/api/contacts/{second['id']}", headers=headers).status_code == 404
    assert app_client.get(f"/api/contacts/{other['id']}", headers=headers).status_code == 200


# -- export (the right of access) -----------------------------------------------------------


def export(client: Client, contact: Json) -> Any:
    return client.get(f"/api/contacts/{contact['id']}/export")


def test_an_export_holds_everything_about_the_person_and_is_audited(
    client: Client, service: Service
) -> None:
    live(client, {"rules": [OPENS]})
    ana = post(
        client,
        "/api/contacts",
        {"email": EMAIL, "consent": {"level": "marketing", "source": "form"}},
    )
    again = post(client, "/api/contacts", {"email": EMAIL.upper(), "first_name": "Ana"})
    bo = post(client, "/api/contacts", {"email": "bo@example.com"})
    by_parent = post(
        client, "/api/leads", {"topic": "a", "parent_contact_id": ana["id"], "sales_ready": True}
    )
    by_email = post(client, "/api/leads", {"topic": "b", "email": EMAIL})
    bos_lead = post(client, "/api/leads", {"topic": "c", "parent_contact_id": bo["id"]})
    renamed = client.patch(
        f"/api/contacts/{ana['id']}",
        json={"first_name": "Ana"},
        headers={"If-Match": f'"{ana["version"]}"'},
    )
    assert renamed.status_code == 200, renamed.text
    theirs = record_interactions(
        client,
        {"contact_id": ana["id"], "kind": "email_open"},
        {"contact_id": again["id"]},
        {"lead_id": by_email["id"]},
    )
    record_interactions(client, {"contact_id": bo["id"]}, {"lead_id": bos_lead["id"]})
    with service.db.write() as session:
        session.add(
            Opportunity(
                name="deal", lead_id=by_parent["id"], estimated_value_cents=1, currency="EUR"
            )
        )

    response = export(client, ana)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    ContactExport.model_validate(document)  # the document the OpenAPI schema describes
    assert document["contact"]["id"] == ana["id"]
    assert [c["level"] for c in document["contact"]["consent"]] == ["marketing"]
    assert [c["id"] for c in document["other_contacts"]] == [again["id"]]
    leads = {lead["id"]: lead for lead in document["leads"]}
    assert set(leads) == {by_parent["id"], by_email["id"]}
    [score] = leads[by_parent["id"]]["scores"]
    assert (score["model"], score["score"]) == ("engagement", 5.0)
    assert score["contributions"][0]["occurrences"] == 1
    assert [h["to_stage"] for h in leads[by_parent["id"]]["stage_history"]] == [SA]
    assert {a["lead_id"] for a in document["activities"]} == {by_parent["id"]}
    assert [o["name"] for o in document["opportunities"]] == ["deal"]
    assert sorted(i["id"] for i in document["interactions"]) == sorted(theirs)
    audited = {(e["entity"], e["entity_id"], e["field"]) for e in document["audit"]}
    assert ("contact", ana["id"], "first_name") in audited
    assert ("contact", ana["id"], "privacy_export") in audited
    assert all(e["entity_id"] != bo["id"] for e in document["audit"] if e["entity"] == "contact")
    # Who exported whose data, and when, is in the contact's audit log.
    [entry] = [e for e in audit_of(client, ana) if e["field"] == "privacy_export"]
    assert entry["actor"] == "user"
    assert entry["actor_name"] == "admin tester"
    assert entry["new"] == {"contacts": [ana["id"], again["id"]], "leads": sorted(leads)}


def test_an_export_pages_through_a_long_history(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(privacy_export, "PAGE", 3)
    ana = post(client, "/api/contacts", {"email": EMAIL})
    lead = post(client, "/api/leads", {"topic": "a", "parent_contact_id": ana["id"]})
    same_time = [{"contact_id": ana["id"]} for _ in range(4)]
    earlier = [
        {"contact_id": ana["id"], "occurred_at": f"2026-01-0{d}T10:00:00+00:00"} for d in (3, 2, 1)
    ]
    stored = record_interactions(client, *same_time, *earlier, {"lead_id": lead["id"]})
    for name in ("a", "b", "c", "d"):
        current = client.get(f"/api/contacts/{ana['id']}").json()
        client.patch(
            f"/api/contacts/{ana['id']}",
            json={"first_name": name},
            headers={"If-Match": f'"{current["version"]}"'},
        )
    document = export(client, ana).json()
    # Oldest first; each exactly once, across pages.
    assert [i["id"] for i in document["interactions"]] == [
        *stored[4:7][::-1],
        *stored[:4],
        stored[7],
    ]
    names = [e["new"] for e in document["audit"] if e["field"] == "first_name"]
    assert names == ["a", "b", "c", "d"]


def test_only_admins_export_and_an_erased_or_unknown_contact_is_404(
    client: Client, auth: KeyMaker
) -> None:
    ana = post(client, "/api/contacts", {"email": EMAIL})
    for role in Role:
        response = client.get(f"/api/contacts/{ana['id']}/export", headers=auth(role))
        assert response.status_code == (200 if role is Role.ADMIN else 403), role
    refused = [e for e in audit_of(client, ana) if e["field"] == "privacy_export"]
    assert len(refused) == 1  # the admin's only
    assert erase(client, ana).status_code == 200
    gone = export(client, ana)
    assert gone.status_code == 404
    assert gone.json()["detail"] == f"there is no contact {ana['id']}"
    assert client.get("/api/contacts/999/export").status_code == 404


def audit_of(client: Client, contact: Json) -> list[Json]:
    return client.get(f"/api/contacts/{contact['id']}/audit").json()["items"]  # type: ignore[no-any-return]
