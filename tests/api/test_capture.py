"""Capture: forms, events and lead-gen responses become matched or new contacts and leads,
with an interaction credited to both; matching strategies decide what "the same" is."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from api.services.keys import Role
from tests.conftest import KeyMaker


@pytest.fixture
def marketer(app_client: TestClient, auth: KeyMaker) -> TestClient:  # type: ignore[type-arg]
    app_client.headers.update(auth(Role.MARKETER))
    return app_client


def form(client: TestClient, **fields: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    response = client.post(
        "/api/forms", json={"id": "webinar-2026", "name": "Pricing webinar", **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


def submit(
    client: TestClient,
    fields: dict[str, Any],
    path: str = "/api/forms/webinar-2026/submissions",
    **extra: Any,
) -> Any:  # type: ignore[type-arg]
    return client.post(path, json={"fields": fields, **extra})


ANA = {"email": "Ana@Example.com", "first_name": "Ana", "company": "Acme"}


def test_a_first_submission_creates_a_contact_a_lead_and_an_interaction(
    marketer: TestClient,
) -> None:  # type: ignore[type-arg]
    form(marketer)
    answer = submit(marketer, {**ANA, "topic": "Pricing for 50 seats", "budget_amount": 25000})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["contact"]["action"], body["lead"]["action"]) == ("created", "created")
    contact = marketer.get(f"/api/contacts/{body['contact']['id']}").json()
    assert (contact["email"], contact["first_name"], contact["company"]) == (
        "ana@example.com",
        "Ana",
        "Acme",
    )
    lead = marketer.get(f"/api/leads/{body['lead']['id']}").json()
    assert lead["parent_contact_id"] == contact["id"]
    assert lead["marketing_context"] == {"kind": "form", "id": "webinar-2026"}
    assert lead["topic"] == "Pricing for 50 seats"
    assert lead["attributes"] == {"budget_amount": 25000}
    interactions = marketer.get(f"/api/interactions?lead_id={lead['id']}").json()["items"]
    assert [(i["kind"], i["target"], i["contact_id"]) for i in interactions] == [
        ("form_submit", "webinar-2026", contact["id"])
    ]


def test_submitting_again_updates_the_same_records(marketer: TestClient) -> None:  # type: ignore[type-arg]
    form(marketer)
    first = submit(marketer, ANA).json()
    again = submit(marketer, {**ANA, "email": "ANA@example.com", "job_title": "CMO"}).json()
    assert again["contact"]["id"] == first["contact"]["id"]
    assert again["contact"]["action"] == "updated"
    assert again["contact"]["match"] == {
        "strategy": "default contact matching",
        "fields": ["email"],
        "matched": True,
        "candidates": 1,
    }
    assert again["lead"]["id"] == first["lead"]["id"]
    assert again["interaction_id"] != first["interaction_id"]
    unchanged = submit(marketer, {"email": "ana@example.com"}).json()
    assert unchanged["contact"]["action"] == "unchanged"


def test_one_open_lead_per_marketing_context(marketer: TestClient, auth: KeyMaker) -> None:  # type: ignore[type-arg]
    form(marketer)
    form(marketer, id="trial", name="Free trial")
    webinar = submit(marketer, ANA).json()
    trial = submit(marketer, ANA, path="/api/forms/trial/submissions").json()
    assert trial["contact"]["id"] == webinar["contact"]["id"]
    assert trial["lead"]["id"] != webinar["lead"]["id"]
    lead = marketer.get(f"/api/leads/{webinar['lead']['id']}").json()
    closed = marketer.post(
        f"/api/leads/{lead['id']}/disqualify",
        json={"reason": "lost"},
        headers={"If-Match": f'"{lead["version"]}"', **auth(Role.ADMIN)},
    )
    assert closed.status_code == 200, closed.text
    after = submit(marketer, ANA).json()
    assert after["lead"]["action"] == "created"  # a closed lead is history, not matched


def test_the_most_recently_updated_match_wins_and_the_answer_says_so(marketer: TestClient) -> None:  # type: ignore[type-arg]
    form(marketer)
    older = marketer.post(
        "/api/contacts", json={"email": "ana@example.com", "first_name": "Old"}
    ).json()
    newer = marketer.post(
        "/api/contacts", json={"email": "ana@example.com", "first_name": "New"}
    ).json()
    answer = submit(marketer, {"email": "ana@example.com"}).json()
    assert answer["contact"]["id"] == newer["id"] != older["id"]
    assert answer["contact"]["match"]["candidates"] == 2
    assert answer["contact"]["match"]["chosen"] == "the most recently updated of the candidates"


def test_a_dry_run_reports_the_match_and_writes_nothing(marketer: TestClient) -> None:  # type: ignore[type-arg]
    form(marketer)
    would = marketer.post("/api/forms/webinar-2026/submissions?dry_run=true", json={"fields": ANA})
    assert would.status_code == 200
    assert (would.json()["contact"]["action"], would.json()["lead"]["action"]) == (
        "would create",
        "would create",
    )
    assert marketer.get("/api/contacts").json()["items"] == []
    assert marketer.get("/api/interactions").json()["items"] == []
    created = submit(marketer, ANA).json()
    would = marketer.post(
        "/api/forms/webinar-2026/submissions?dry_run=true", json={"fields": ANA}
    ).json()
    assert (would["contact"]["id"], would["contact"]["action"]) == (
        created["contact"]["id"],
        "would update",
    )
    assert would["contact"]["match"]["matched"] is True
    assert len(marketer.get("/api/interactions").json()["items"]) == 1


def test_a_form_names_its_own_strategies(marketer: TestClient) -> None:  # type: ignore[type-arg]
    strategy = marketer.post(
        "/api/matching-strategies",
        json={
            "name": "by name and company",
            "entity": "contact",
            "fields": ["first_name", "company"],
        },
    )
    assert strategy.status_code == 201, strategy.text
    form(marketer, contact_strategy="by name and company")
    first = submit(
        marketer, {"email": "ana@example.com", "first_name": "Ana", "company": "Acme"}
    ).json()
    other_email = submit(
        marketer, {"email": "ana@home.org", "first_name": "Ana", "company": "Acme"}
    ).json()
    assert other_email["contact"]["id"] == first["contact"]["id"]
    assert other_email["contact"]["match"]["fields"] == ["first_name", "company"]
    missing = submit(marketer, {"email": "bo@example.com", "first_name": "Bo"}).json()
    assert missing["contact"]["action"] == "created"
    assert missing["contact"]["match"]["missing"] == ["company"]


def test_strategies_and_forms_are_checked(marketer: TestClient) -> None:  # type: ignore[type-arg]
    bad = marketer.post(
        "/api/matching-strategies", json={"name": "x", "entity": "lead", "fields": ["first_name"]}
    )
    assert bad.status_code == 422
    assert "first_name: not lead fields" in bad.json()["errors"][0]["reason"]
    unknown = marketer.post("/api/forms", json={"id": "f", "name": "F", "contact_strategy": "nope"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "contact_strategy", "reason": "there is no matching strategy named 'nope'"}
    ]
    form(marketer)
    assert (
        marketer.post("/api/forms", json={"id": "webinar-2026", "name": "again"}).status_code == 409
    )
    assert submit(marketer, ANA, path="/api/forms/nope/submissions").status_code == 404
    invalid = submit(marketer, {"email": "not an email", "first_name": 5})
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.json()["errors"]} == {"fields.email", "fields.first_name"}


def test_event_registrations_and_check_ins(marketer: TestClient) -> None:  # type: ignore[type-arg]
    form(marketer, id="summit-2027", name="Summit 2027", kind="event")
    registered = submit(marketer, ANA, path="/api/events/summit-2027/registrations").json()
    checked_in = submit(
        marketer, {"email": "ana@example.com"}, path="/api/events/summit-2027/checkins"
    ).json()
    assert checked_in["lead"]["id"] == registered["lead"]["id"]
    kinds = [
        i["kind"]
        for i in marketer.get(f"/api/interactions?lead_id={registered['lead']['id']}").json()[
            "items"
        ]
    ]
    assert kinds == ["event_registration", "event_checkin"]
    lead = marketer.get(f"/api/leads/{registered['lead']['id']}").json()
    assert lead["marketing_context"] == {"kind": "event", "id": "summit-2027"}
    form(marketer)
    assert submit(marketer, ANA, path="/api/events/webinar-2026/registrations").status_code == 404


def test_a_replayed_submission_returns_the_first_answer(marketer: TestClient) -> None:  # type: ignore[type-arg]
    form(marketer)
    first = marketer.post(
        "/api/forms/webinar-2026/submissions",
        json={"fields": ANA},
        headers={"Idempotency-Key": "f-1"},
    )
    again = marketer.post(
        "/api/forms/webinar-2026/submissions",
        json={"fields": ANA},
        headers={"Idempotency-Key": "f-1"},
    )
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(marketer.get("/api/interactions").json()["items"]) == 1


LINKEDIN = {
    "id": "resp-1",
    "submittedAt": 1763700000000,
    "answers": [
        {"question": "email", "value": "bo@example.com"},
        {"question": "first", "value": "Bo"},
        {"question": "size", "value": 120},
    ],
}


def test_a_lead_gen_response_is_mapped_into_a_submission_once(marketer: TestClient) -> None:  # type: ignore[type-arg]
    form(marketer)
    source = marketer.post(
        "/api/leadgen/sources",
        json={
            "id": "linkedin",
            "form_id": "webinar-2026",
            "mapping": {
                "email": "answers[question=email].value",
                "first_name": "answers[question=first].value",
                "company_size": "answers[question=size].value",
                "external_id": "id",
                "submitted_at": "submittedAt",
            },
        },
    )
    assert source.status_code == 201, source.text
    first = marketer.post("/api/leadgen/linkedin", json=LINKEDIN)
    assert first.status_code == 201, first.text
    contact = marketer.get(f"/api/contacts/{first.json()['contact']['id']}").json()
    assert (contact["email"], contact["first_name"]) == ("bo@example.com", "Bo")
    lead = marketer.get(f"/api/leads/{first.json()['lead']['id']}").json()
    assert lead["attributes"] == {"company_size": 120}
    interaction = marketer.get(f"/api/interactions?lead_id={lead['id']}").json()["items"][0]
    assert interaction["external_id"] == "linkedin:resp-1"
    assert interaction["occurred_at"].startswith("2025-11-21")
    resent = marketer.post("/api/leadgen/linkedin", json=LINKEDIN).json()
    assert resent["interaction_duplicate"] is True
    assert resent["interaction_id"] == first.json()["interaction_id"]


def test_lead_gen_mappings_and_sources_are_checked(marketer: TestClient) -> None:  # type: ignore[type-arg]
    form(marketer)
    bad = marketer.post(
        "/api/leadgen/sources",
        json={"id": "x", "form_id": "webinar-2026", "mapping": {"email": "answers[question=email"}},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "mapping.email"
    assert marketer.post("/api/leadgen/nope", json={}).status_code == 404


def test_capture_roles(app_client: TestClient, auth: KeyMaker) -> None:  # type: ignore[type-arg]
    app_client.headers.update(auth(Role.MARKETER))
    form(app_client)
    for role, expected in (
        (Role.SERVICE, 201),
        (Role.TELEPROSPECTOR, 403),
        (Role.SALESPERSON, 403),
    ):
        answer = app_client.post(
            "/api/forms/webinar-2026/submissions", json={"fields": ANA}, headers=auth(role)
        )
        assert answer.status_code == expected, role
    assert (
        app_client.post(
            "/api/forms", json={"id": "f2", "name": "F"}, headers=auth(Role.SERVICE)
        ).status_code
        == 403
    )
