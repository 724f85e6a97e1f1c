"""CSV imports over HTTP: mapping, types, every bad row named, all or nothing, skipping bad rows,
dry runs, matching against stored records and within the file, erased persons, caps, roles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app, open_service
from api.http.controllers import imports
from api.services import keys
from api.services.keys import Role
from api.settings import Settings
from tests.api.closing import ensure_seller
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def marketer(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.MARKETER))
    return app_client


def post_csv(client: Client, kind: str, text: str | bytes, **params: Any) -> Any:
    query = {
        name: json.dumps(value) if name == "mapping" else str(value).lower()
        for name, value in params.items()
    }
    body = text.encode() if isinstance(text, str) else text
    return client.post(
        f"/api/imports/{kind}", content=body, headers={"content-type": "text/csv"}, params=query
    )


def imported(client: Client, kind: str, text: str, **params: Any) -> dict[str, Any]:
    response = post_csv(client, kind, text, **params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def contacts(client: Client) -> dict[str, dict[str, Any]]:
    items = client.get("/api/contacts", params={"limit": 200}).json()["items"]
    return {c["email"]: c for c in items}


def errors(response: Any) -> list[tuple[int, str | None, str]]:
    return [(e["line"], e["column"], e["reason"]) for e in response.json()["errors"]]


def test_columns_fill_fields_by_mapping_by_name_and_otherwise_become_attributes(
    marketer: Client,
) -> None:
    text = (
        "E-mail,First name, Country ,Company name,lead_source\n"
        'Ana@Example.com,Ana,Spain,Acme,"Zoë\'s ""VIP"" webinar"\n'
        "bob@example.com,Bob,,Beta,\n"
    )
    mapping = {"E-mail": "email", "First name": "first_name", "Company name": "company"}
    result = imported(marketer, "contacts", text, mapping=mapping)
    assert result == {
        "kind": "contacts",
        "dry_run": False,
        "skip_bad_rows": False,
        "written": True,
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "bad_rows": 0,
        "errors": [],
        "errors_total": 0,
        "warnings": [],
        "seconds": result["seconds"],
    }
    ana = contacts(marketer)["ana@example.com"]
    assert (ana["first_name"], ana["country"], ana["company"]) == ("Ana", "Spain", "Acme")
    assert ana["attributes"] == {"lead_source": 'Zoë\'s "VIP" webinar'}
    assert ana["version"] == 1 and ana["consent_level"] == "none"
    assert contacts(marketer)["bob@example.com"]["country"] is None


def test_a_mapping_can_rename_an_attribute_or_skip_a_column(marketer: Client) -> None:
    text = "email,Source of lead,Notes to self\nana@example.com,webinar,ignore me\n"
    mapping = {"Source of lead": "attributes.source", "Notes to self": None}
    imported(marketer, "contacts", text, mapping=mapping)
    assert contacts(marketer)["ana@example.com"]["attributes"] == {"source": "webinar"}


def test_header_problems_name_each_column_and_nothing_is_read(marketer: Client) -> None:
    text = "emial,First name,Company name,phone,phone\nana@example.com,Ana,Acme,1,2\n"
    response = post_csv(
        marketer,
        "contacts",
        text,
        mapping={"Company name": "compnay", "Missing": "email", "First name": "first_name"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:leadflow:problem:import-rejected"
    assert errors(response) == [
        (1, "phone", "the header names this column twice"),
        (1, "Missing", "the mapping maps column 'Missing', which the file does not have"),
        (
            1,
            "emial",
            "'emial' looks like the field 'email' misspelt; map it to a field, to "
            "attributes.<name>, or to null to skip it",
        ),
        (
            1,
            "Company name",
            "the mapping: 'compnay' is not a contact field (did you mean 'company'?); fields: "
            "email, first_name, last_name, job_title, company, phone, country, industry, "
            "account_id, consent_level, consent_source; or attributes.<name>, or null to skip "
            "the column",
        ),
        (1, "phone", "column 'phone' fills phone already"),
    ]
    assert contacts(marketer) == {}


def test_a_column_every_record_needs_must_be_there(marketer: Client) -> None:
    response = post_csv(marketer, "leads", "email\nana@example.com\n")
    assert response.status_code == 422
    assert errors(response) == [(1, None, "no column gives 'topic', which every lead needs")]
    response = post_csv(marketer, "contacts", "")
    assert errors(response) == [(1, None, "the file is empty: it needs a header line")]


def test_every_bad_row_is_named_and_all_or_nothing_writes_nothing(marketer: Client) -> None:
    text = (
        "email,account_id,consent_level,first_name\n"
        "ana@example.com,,,Ana\n"
        "not-an-email,x,maybe,Bob\n"
        '"carl@example.com",,,"Carl\n'
        'the second"\n'
        "dan@example.com,42,,Dan\n"
        "eve@example.com,,\n"
        'fay@example.com,,"none"x,Fay\n'
        "gus@example.com,,,Gus,extra\n"
        ",,,\n"
    )
    response = post_csv(marketer, "contacts", text)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == (
        "5 of 7 rows are bad, so nothing was written; fix them, or import with "
        "skip_bad_rows=true to write the good rows"
    )
    assert (body["rows"], body["bad_rows"], body["errors_total"]) == (7, 5, 7)
    assert errors(response) == [
        (3, "email", "not an email address"),
        (3, "account_id", "must be a whole number"),
        (
            3,
            "consent_level",
            "must be one of: none, transactional, subscriptions, marketing, profiling",
        ),
        (6, "account_id", "there is no account 42"),
        (7, None, "has 3 values; the header has 4"),
        (8, None, "not valid CSV: ',' expected after '\"'"),
        (9, None, "has 5 values; the header has 4"),
    ]
    assert contacts(marketer) == {}


def test_skipping_bad_rows_writes_the_good_ones_and_reports_the_bad(marketer: Client) -> None:
    text = "email,first_name\nana@example.com,Ana\nnot-an-email,Bob\ncarl@example.com,Carl\n"
    result = imported(marketer, "contacts", text, skip_bad_rows=True)
    assert (result["written"], result["created"], result["bad_rows"]) == (True, 2, 1)
    assert result["errors"] == [{"line": 3, "column": "email", "reason": "not an email address"}]
    assert sorted(contacts(marketer)) == ["ana@example.com", "carl@example.com"]


def test_rows_match_stored_contacts_and_earlier_rows_of_the_file(marketer: Client) -> None:
    stored = marketer.post(
        "/api/contacts", json={"email": "ana@example.com", "job_title": "CTO", "phone": "1"}
    ).json()
    text = (
        "email,job_title,phone,team\n"
        "ANA@example.com,CEO,,sales\n"
        "bob@example.com,Buyer,2,\n"
        "bob@example.com,Head buyer,,ops\n"
        "bob@example.com,Head buyer,,\n"
        ",Nobody,3,\n"
    )
    result = imported(marketer, "contacts", text)
    assert (result["created"], result["updated"], result["unchanged"]) == (2, 2, 1)
    found = contacts(marketer)
    ana = found["ana@example.com"]
    assert ana["id"] == stored["id"]
    assert (ana["job_title"], ana["phone"], ana["attributes"]) == ("CEO", "1", {"team": "sales"})
    assert ana["version"] == 2
    bob = found["bob@example.com"]
    assert (bob["job_title"], bob["phone"], bob["attributes"]) == (
        "Head buyer",
        "2",
        {"team": "ops"},
    )
    assert bob["version"] == 1
    assert found[None]["job_title"] == "Nobody"

    # Bob's rows change his title and change it back: each row counts, his record does not.
    again = imported(marketer, "contacts", text.replace(",Nobody,3,\n", ""))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 2, 2)
    found = contacts(marketer)
    assert (found["ana@example.com"]["version"], found["bob@example.com"]["version"]) == (2, 1)


def test_the_default_contact_matching_strategy_decides_what_matches(marketer: Client) -> None:
    response = marketer.post(
        "/api/matching-strategies",
        json={"name": "by phone", "entity": "contact", "fields": ["phone"], "default": True},
    )
    assert response.status_code == 201, response.text
    marketer.post("/api/contacts", json={"email": "old@example.com", "phone": "+1 555"})
    result = imported(marketer, "contacts", "phone,email\n+1 555,new@example.com\n")
    assert (result["created"], result["updated"]) == (0, 1)
    assert list(contacts(marketer)) == ["new@example.com"]
    result = imported(marketer, "contacts", "email\nnew@example.com\n")
    assert result["created"] == 1
    assert result["warnings"] == [
        "the contact matching strategy 'by phone' compares phone, but no column gives phone: "
        "every row creates a new contact"
    ]


def test_a_dry_run_counts_what_would_happen_and_writes_nothing(marketer: Client) -> None:
    marketer.post("/api/contacts", json={"email": "ana@example.com"})
    text = (
        "email,first_name\nana@example.com,Ana\nbob@example.com,Bob\nbob@example.com,Bobby\nx,y\n"
    )
    result = imported(marketer, "contacts", text, dry_run=True)
    assert (result["dry_run"], result["written"]) == (True, False)
    assert (result["created"], result["updated"], result["bad_rows"]) == (1, 2, 1)
    found = contacts(marketer)
    assert list(found) == ["ana@example.com"]
    assert found["ana@example.com"]["first_name"] is None
    assert found["ana@example.com"]["version"] == 1


def test_an_erased_person_comes_back_only_with_their_consent(marketer: Client) -> None:
    ana = marketer.post("/api/contacts", json={"email": "ana@example.com"}).json()
    assert marketer.post(f"/api/contacts/{ana['id']}/erasure").status_code == 200
    response = post_csv(marketer, "contacts", "email,first_name\nAna@example.com,Ana\n")
    assert response.status_code == 422
    assert errors(response) == [
        (
            2,
            "email",
            "belongs to an erased person; they can be imported again only with their consent "
            "(a consent_level column other than none)",
        )
    ]
    response = post_csv(marketer, "leads", "topic,email\nHello,ana@example.com\n")
    assert errors(response)[0][1:] == (
        "email",
        "belongs to an erased person; import them as a contact with their consent first",
    )
    response = post_csv(marketer, "contacts", "email,consent_level\nana@example.com,none\n")
    assert response.status_code == 422

    text = "email,consent_level,consent_source\nana@example.com,marketing,fair signup\n"
    assert imported(marketer, "contacts", text)["created"] == 1
    back = contacts(marketer)["ana@example.com"]
    assert back["consent_level"] == "marketing"
    history = marketer.get(f"/api/contacts/{back['id']}/consent").json()["items"]
    assert [(h["level"], h["previous_level"], h["source"]) for h in history] == [
        ("marketing", "none", "fair signup")
    ]
    assert imported(marketer, "leads", "topic,email\nHello,ana@example.com\n")["created"] == 1


def test_consent_changes_in_a_file_are_recorded(marketer: Client) -> None:
    imported(marketer, "contacts", "email,consent_level\nana@example.com,subscriptions\n")
    imported(marketer, "contacts", "email,consent_level\nana@example.com,Marketing\n")
    ana = contacts(marketer)["ana@example.com"]
    assert (ana["consent_level"], ana["version"]) == ("marketing", 2)
    history = marketer.get(f"/api/contacts/{ana['id']}/consent").json()["items"]
    assert [(h["level"], h["previous_level"], h["source"]) for h in history] == [
        ("subscriptions", "none", "import over HTTP"),
        ("marketing", "subscriptions", "import over HTTP"),
    ]


def test_leads_start_in_the_first_stage_and_what_they_set_off_moves_them(
    marketer: Client,
) -> None:
    contact = marketer.post("/api/contacts", json={"email": "ana@example.com"}).json()
    text = (
        "topic,email,context_kind,context_id,parent_contact_id,sales_ready,budget_amount,"
        "purchase_timeframe,teleprospecting_ready\n"
        f"Pricing,ana@example.com,form,webinar,{contact['id']},,25000,This_Quarter,\n"
        "Demo,bob@example.com,form,webinar,,yes,,,\n"
        "Call,carl@example.com,event,expo,,,,,true\n"
    )
    result = imported(marketer, "leads", text)
    assert (result["created"], result["warnings"]) == (3, [])
    leads = {lead["email"]: lead for lead in marketer.get("/api/leads").json()["items"]}
    ana = leads["ana@example.com"]
    assert (ana["stage"], ana["process"], ana["version"]) == ("inquiry", "lead_to_opportunity", 1)
    assert ana["marketing_context"] == {"kind": "form", "id": "webinar"}
    assert ana["parent_contact_id"] == contact["id"]
    assert ana["attributes"] == {"budget_amount": 25000, "purchase_timeframe": "this_quarter"}
    assert leads["bob@example.com"]["stage"] == "sales_acceptance"
    assert leads["carl@example.com"]["stage"] == "teleprospecting_acceptance"
    history = marketer.get(f"/api/leads/{leads['bob@example.com']['id']}/history").json()
    assert [
        (h["from_stage"], h["to_stage"], h["trigger"], h["actor_name"]) for h in history["items"]
    ] == [("inquiry", "sales_acceptance", "hand_to_sales", "marketer tester")]

    again = (
        "topic,email,context_kind,context_id,sales_ready\n"
        "Pricing v2,ana@example.com,form,webinar,true\n"
    )
    result = imported(marketer, "leads", again)
    assert (result["created"], result["updated"]) == (0, 1)
    lead = marketer.get(f"/api/leads/{ana['id']}").json()
    assert (lead["topic"], lead["stage"], lead["version"]) == ("Pricing v2", "sales_acceptance", 2)


def test_lead_rows_are_checked_against_the_process_and_stored_records(marketer: Client) -> None:
    text = (
        "topic,email,process,parent_account_id,budget_amount,context_kind\n"
        "A,ana@example.com,lead_to_oportunity,,,\n"
        "B,bob@example.com,,7,lots,\n"
        "C,carl@example.com,,,,form\n"
    )
    response = post_csv(marketer, "leads", text)
    assert response.status_code == 422
    assert errors(response) == [
        (
            2,
            "process",
            "'lead_to_oportunity' is not a process; did you mean 'lead_to_opportunity'?",
        ),
        (3, "budget_amount", "must be a number"),
        (4, "context_kind", "a marketing context needs context_id too"),
    ]
    response = post_csv(marketer, "leads", "topic,parent_account_id\nB,7\n")
    assert errors(response) == [(2, "parent_account_id", "there is no account 7")]


def test_interactions_are_stored_once_per_external_id(marketer: Client) -> None:
    ana = marketer.post("/api/contacts", json={"email": "ana@example.com"}).json()
    text = (
        "kind,occurred_at,email,contact_id,external_id,campaign\n"
        "email_open,2026-03-01T09:30:00Z,ANA@example.com,,e-1,spring\n"
        f"page_visit,2026-03-01T10:00:00+02:00,,{ana['id']},e-2,\n"
        f"page_visit,2026-03-01T10:00:00+02:00,,{ana['id']},e-2,\n"
        f"email_click,2026-03-01T10:00:00,,{ana['id']},e-3,\n"
        "teleport,2026-03-01T10:00:00Z,nobody@example.com,,e-4,\n"
        f"form_submit,2999-01-01T00:00:00Z,,{ana['id'] + 1},e-5,\n"
    )
    response = post_csv(marketer, "interactions", text)
    assert response.status_code == 422
    reasons = errors(response)
    assert reasons[0] == (
        5,
        "occurred_at",
        "needs a time zone, e.g. 2026-03-01T09:30:00Z or +02:00",
    )
    assert reasons[1][:2] == (6, "kind") and reasons[1][2].startswith("unknown kind 'teleport'")
    assert reasons[2:] == [
        (6, "email", "there is no contact with this email"),
        (7, "occurred_at", "is in the future"),
        (7, "contact_id", f"there is no contact {ana['id'] + 1}"),
    ]
    result = imported(marketer, "interactions", text, skip_bad_rows=True)
    assert (result["created"], result["unchanged"], result["bad_rows"]) == (2, 1, 3)
    again = imported(marketer, "interactions", text, skip_bad_rows=True)
    assert (again["created"], again["unchanged"]) == (0, 3)
    stored = marketer.get("/api/interactions", params={"contact_id": ana["id"]}).json()["items"]
    assert [(i["kind"], i["occurred_at"], i["external_id"], i["properties"]) for i in stored] == [
        ("email_open", "2026-03-01T09:30:00Z", "e-1", {"campaign": "spring"}),
        ("page_visit", "2026-03-01T08:00:00Z", "e-2", {}),
    ]


def test_accounts_are_matched_by_name(marketer: Client) -> None:
    text = "name,employees,revenue,industry\nAcme,40,1.5e6,retail\nBeta,,,\n"
    assert imported(marketer, "accounts", text)["created"] == 2
    result = imported(
        marketer, "accounts", "name,employees\nAcme,45\nBeta,\nGamma,-1\n", skip_bad_rows=True
    )
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 1)
    assert result["errors"] == [{"line": 4, "column": "employees", "reason": "must be at least 0"}]
    accounts = {a["name"]: a for a in marketer.get("/api/accounts").json()["items"]}
    assert (accounts["Acme"]["employees"], accounts["Acme"]["revenue"]) == (45, 1.5e6)
    assert accounts["Acme"]["version"] == 2


def test_text_that_is_not_utf8_is_a_row_error(marketer: Client) -> None:
    body = "email,first_name\nana@example.com,Jos\xe9\nbob@example.com,Bob\n".encode("latin-1")
    response = post_csv(marketer, "contacts", body)
    assert errors(response) == [(2, "first_name", "not UTF-8 text; save the file as UTF-8")]
    body = "\ufeffemail\nana@example.com\n".encode()
    assert imported(marketer, "contacts", body.decode("utf-8"))["created"] == 1


def test_only_marketers_and_admins_import(app_client: Client, auth: KeyMaker) -> None:
    text = "email\nana@example.com\n"
    for role in (Role.TELEPROSPECTOR, Role.SALESPERSON, Role.SERVICE):
        app_client.headers.update(auth(role))
        response = post_csv(app_client, "contacts", text)
        assert response.status_code == 403
        assert "allowed: admin, marketer" in response.json()["detail"]
    app_client.headers.update(auth(Role.ADMIN))
    assert post_csv(app_client, "contacts", text).status_code == 200
    del app_client.headers["authorization"]
    assert post_csv(app_client, "contacts", text).status_code == 401


def test_requests_that_are_not_an_import_are_refused(marketer: Client) -> None:
    response = post_csv(marketer, "opportunities", "x\n1\n")
    assert response.status_code == 404
    assert "contacts, accounts, leads, interactions" in response.json()["detail"]
    response = marketer.post(
        "/api/imports/contacts",
        json={"email": "a@b.c"},
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 415
    response = marketer.post(
        "/api/imports/contacts?mapping={oops",
        content=b"email\n",
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "mapping"
    response = post_csv(marketer, "contacts", "email\n", mapping={"email": 3})
    assert response.json()["errors"] == [
        {"field": "mapping", "reason": "'email' must map to a field name or null, not 3"}
    ]


@pytest.fixture
def small_cap_client(settings: Settings, auth: KeyMaker) -> Iterator[Client]:
    """A service whose import takes at most 2 KiB (and the app-wide cap stays 1 KiB)."""
    capped = settings.model_copy(update={"import_max_bytes": 2048, "max_body_bytes": 1024})
    service = open_service(capped)
    with service.db.write() as session:
        _, secret = keys.create_key(session, Role.MARKETER, "capped")
    try:
        with TestClient(create_app(service)) as client:
            client.headers.update({"Authorization": f"Bearer {secret}"})
            yield client
    finally:
        service.db.dispose()


def test_a_body_over_the_import_cap_is_413_naming_the_cap(small_cap_client: Client) -> None:
    rows = "".join(f"person{i}@example.com\n" for i in range(60))
    fits = "email\n" + rows
    assert 1024 < len(fits) <= 2048
    assert imported(small_cap_client, "contacts", fits)["created"] == 60
    response = post_csv(small_cap_client, "contacts", "email\n" + rows * 3)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["max_bytes"] == 2048
    assert "at most 2,048 bytes (LEADFLOW_IMPORT_MAX_BYTES)" in body["detail"]


def test_the_import_cap_replaces_the_app_wide_one(marketer: Client) -> None:
    """1.2 MB: over LEADFLOW_MAX_BODY_BYTES, under the import's own cap; the body is spooled to
    a temporary file beyond 1 MiB and read back from there."""
    note = "x" * 600
    text = "email,note\n" + "".join(f"p{i}@example.com,{note}\n" for i in range(2000))
    assert len(text) > 1_200_000
    result = imported(marketer, "contacts", text)
    assert (result["rows"], result["created"]) == (2000, 2000)
    last = marketer.get("/api/contacts", params={"email": "p1999@example.com"}).json()
    assert last["items"][0]["attributes"] == {"note": note}


def test_a_file_over_the_row_cap_is_422_naming_the_cap(
    marketer: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    assert imported(marketer, "contacts", "email\na@x.io\nb@x.io\nc@x.io\n")["created"] == 3
    response = post_csv(
        marketer, "contacts", "email\nd@x.io\ne@x.io\nf@x.io\ng@x.io\n", skip_bad_rows=True
    )
    assert response.status_code == 422
    body = response.json()
    assert (body["type"], body["max_rows"]) == ("urn:leadflow:problem:too-many-rows", 3)
    assert "at most 3 rows" in body["detail"]
    assert len(contacts(marketer)) == 3


def test_the_openapi_describes_the_csv_body_and_the_options(marketer: Client) -> None:
    operation = marketer.get("/schema/openapi.json").json()["paths"]["/api/imports/{kind}"]["post"]
    assert list(operation["requestBody"]["content"]) == ["text/csv"]
    assert {p["name"] for p in operation["parameters"]} == {
        "kind",
        "skip_bad_rows",
        "dry_run",
        "mapping",
    }
    assert "LEADFLOW_IMPORT_MAX_BYTES" in operation["description"]


def test_imported_records_are_scored_at_once(client: TestClient, auth: KeyMaker) -> None:  # type: ignore[type-arg]
    headers = auth(Role.MARKETER)
    model = client.post(
        "/api/scoring-models",
        json={
            "name": "m",
            "definition": {
                "rules": [
                    {
                        "type": "attribute",
                        "name": "retail",
                        "when": {"field": "lead.industry", "op": "equals", "value": "retail"},
                        "points": 10,
                    },
                    {"type": "behaviour", "name": "opens", "kind": "email_open", "points": 1},
                ]
            },
        },
        headers=headers,
    ).json()
    started = client.post(
        f"/api/scoring-models/{model['id']}/go-live", headers={**headers, "If-Match": '"1"'}
    )
    assert started.status_code == 202
    leads = client.post(
        "/api/imports/leads",
        content=b"topic,email,industry\nPricing,a@x.io,Retail\nDemo,b@x.io,bank\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert leads.status_code == 200, leads.text
    found = client.get("/api/leads", headers=headers).json()["items"]
    scores = {
        lead["email"]: client.get(f"/api/leads/{lead['id']}/scores", headers=headers).json()[0][
            "score"
        ]
        for lead in found
    }
    assert scores == {"a@x.io": 10.0, "b@x.io": 0.0}
    assert {
        lead["stage"] for lead in client.get("/api/leads", headers=headers).json()["items"]
    } == {"automated_marketing_qualification"}


def test_an_owner_column_names_active_sellers_and_each_owner_is_an_assignment(
    marketer: Client, auth: KeyMaker
) -> None:
    admin = auth(Role.ADMIN)
    for handle in ("ana", "bo", "cy"):
        ensure_seller(marketer, handle, admin)
    away = marketer.get("/api/sellers", headers=admin).json()["items"]
    [cy] = [s for s in away if s["handle"] == "cy"]
    off = marketer.patch(
        f"/api/sellers/{cy['id']}", json={"active": False}, headers={**admin, "If-Match": '"1"'}
    )
    assert off.status_code == 200, off.text

    header = "topic,email,context_kind,context_id,owner\n"
    rows = "A,a@x.io,form,w,ana\nB,b@x.io,form,w,sam\nC,c@x.io,form,w,cy\n"
    bad = post_csv(marketer, "leads", header + rows)
    assert bad.status_code == 422
    assert errors(bad) == [
        (3, "owner", "there is no seller 'sam'"),
        (4, "owner", "the seller 'cy' is not active"),
    ]
    assert marketer.get("/api/leads").json()["items"] == []

    result = imported(marketer, "leads", header + "A,a@x.io,form,w,ana\nB,b@x.io,form,w,\n")
    assert result["created"] == 2
    leads = {lead["email"]: lead for lead in marketer.get("/api/leads").json()["items"]}
    assert (leads["a@x.io"]["owner"], leads["b@x.io"]["owner"]) == ("ana", None)
    again = imported(marketer, "leads", header + "A,a@x.io,form,w,bo\nB,b@x.io,form,w,bo\n")
    assert (again["created"], again["updated"]) == (0, 2)

    def owners(email: str) -> list[tuple[str | None, str | None, str, str]]:
        path = f"/api/leads/{leads[email]['id']}/assignments"
        return [
            (a["previous_owner"], a["owner"], a["strategy"], a["reason"])
            for a in marketer.get(path, headers=admin).json()["items"]
        ]

    reason = "set by an import's owner column"
    assert owners("a@x.io") == [(None, "ana", "import", reason), ("ana", "bo", "import", reason)]
    assert owners("b@x.io") == [(None, "bo", "import", reason)]
