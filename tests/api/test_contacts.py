"""Contacts and accounts over HTTP: records, filters, pages, versioned changes, deletion,
consent, and the errors a user sees."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.testing import TestClient

from api.services.keys import Role
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]


def create_contact(client: Client, **fields: Any) -> Json:
    response = client.post("/api/contacts", json=fields)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def create_account(client: Client, name: str = "Acme", **fields: Any) -> Json:
    response = client.post("/api/accounts", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def create_lead(client: Client, **fields: Any) -> Json:
    response = client.post("/api/leads", json={"topic": "Pricing", **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def patch(client: Client, path: str, record: Json, **body: Any) -> Any:
    return client.patch(
        f"{path}/{record['id']}", json=body, headers={"If-Match": f'"{record["version"]}"'}
    )


def remove(client: Client, path: str, record: Json) -> Any:
    return client.delete(f"{path}/{record['id']}", headers={"If-Match": f'"{record["version"]}"'})


def problem_fields(response: Any) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def ids(client: Client, url: str) -> list[int]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def every_page(client: Client, url: str, limit: int) -> list[int]:
    """Follow next_cursor from the first page to the last; return every id seen."""
    seen: list[int] = []
    cursor: str | None = None
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"{url}?{query}").json()
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


# -- contacts -------------------------------------------------------------------------------


def test_a_contact_is_created_and_read_back_with_its_etag(client: Client) -> None:
    account = create_account(client)
    contact = create_contact(
        client,
        email="  Ana.Lima@Example.COM ",
        first_name="Ana",
        last_name="Lima",
        job_title="CTO",
        company="Acme",
        phone="+33 1 23 45 67 89",
        country="FR",
        industry="retail",
        account_id=account["id"],
        attributes={"newsletter": True, "seats": 40},
    )
    assert contact["email"] == "ana.lima@example.com"
    assert contact["account_id"] == account["id"]
    assert contact["consent_level"] == "none"
    assert contact["attributes"] == {"newsletter": True, "seats": 40}
    assert contact["version"] == 1
    read = client.get(f"/api/contacts/{contact['id']}")
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == contact


def test_bad_contact_fields_are_named_and_nothing_is_written(client: Client) -> None:
    response = client.post(
        "/api/contacts", json={"email": "not-an-address", "nickname": "ana", "first_name": ""}
    )
    assert response.status_code == 422
    fields = problem_fields(response)
    assert set(fields) == {"email", "nickname", "first_name"}
    assert "not an email address" in fields["email"]
    assert "not permitted" in fields["nickname"]
    response = client.post("/api/contacts", json={"email": "ana@example.com", "account_id": 77})
    assert response.status_code == 422
    assert problem_fields(response) == {"account_id": "there is no account 77"}
    response = client.post(
        "/api/contacts",
        json={"email": "ana@example.com", "consent": {"level": "everything", "source": "form"}},
    )
    assert response.status_code == 422
    assert set(problem_fields(response)) == {"consent.level"}
    assert client.get("/api/contacts").json()["items"] == []


def test_contacts_are_filtered_by_email_whatever_its_case(client: Client) -> None:
    ana = create_contact(client, email="Ana@Example.com")
    create_contact(client, email="bo@example.com")
    assert ids(client, "/api/contacts?email=ana@example.com") == [ana["id"]]
    assert ids(client, "/api/contacts?email=ANA@EXAMPLE.COM") == [ana["id"]]
    assert ids(client, "/api/contacts?email=nobody@example.com") == []


def test_filtering_by_a_malformed_email_is_an_input_error(client: Client) -> None:
    response = client.get("/api/contacts?email=not-an-address")
    assert response.status_code == 422
    assert "email" in problem_fields(response)


def test_contacts_are_filtered_by_account(client: Client) -> None:
    acme, globex = create_account(client, "Acme"), create_account(client, "Globex")
    at_acme = [create_contact(client, account_id=acme["id"]) for _ in range(2)]
    create_contact(client, account_id=globex["id"])
    create_contact(client)
    assert ids(client, f"/api/contacts?account_id={acme['id']}") == [c["id"] for c in at_acme]
    assert client.get("/api/contacts?account_id=0").status_code == 422


def test_contacts_come_in_pages_of_a_capped_size(client: Client) -> None:
    contacts = [create_contact(client, first_name=f"c{i}") for i in range(7)]
    assert every_page(client, "/api/contacts", 3) == [c["id"] for c in contacts]
    assert every_page(client, "/api/contacts", 200) == [c["id"] for c in contacts]
    for query in ("limit=201", "limit=0"):
        response = client.get(f"/api/contacts?{query}")
        assert response.status_code == 422
        assert "limit" in problem_fields(response)
    response = client.get("/api/contacts?cursor=not-ours")
    assert response.status_code == 422
    assert problem_fields(response) == {"cursor": "not a cursor this API returned"}


def test_a_contact_update_needs_the_current_etag_and_a_refused_one_writes_nothing(
    client: Client,
) -> None:
    contact = create_contact(client, first_name="Ana")
    missing = client.patch(f"/api/contacts/{contact['id']}", json={"first_name": "Bo"})
    assert missing.status_code == 428
    updated = patch(client, "/api/contacts", contact, first_name="Anna")
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'
    stale = patch(client, "/api/contacts", contact, first_name="Bo")
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    current = client.get(f"/api/contacts/{contact['id']}").json()
    assert current["first_name"] == "Anna" and current["version"] == 2


def test_an_invalid_contact_update_writes_nothing(client: Client) -> None:
    contact = create_contact(client, first_name="Ana", email="ana@example.com")
    for body, field in [
        ({"first_name": "Bo", "account_id": 5}, "account_id"),
        ({"first_name": "Bo", "email": "nope"}, "email"),
        ({"first_name": "Bo", "consent_level": "marketing"}, "consent_level"),
        ({"first_name": "Bo", "attributes": {"bad key": 1}}, "attributes.bad key"),
    ]:
        response = patch(client, "/api/contacts", contact, **body)
        assert response.status_code == 422, body
        assert any(f.startswith(field) for f in problem_fields(response)), response.json()
    assert client.get(f"/api/contacts/{contact['id']}").json() == contact


def test_contact_attributes_merge_and_null_removes(client: Client) -> None:
    contact = create_contact(client, attributes={"a": 1, "b": "two"})
    contact = patch(client, "/api/contacts", contact, attributes={"a": None, "c": True}).json()
    assert contact["attributes"] == {"b": "two", "c": True}
    assert contact["version"] == 2


def test_a_contact_version_rises_only_when_something_changed(client: Client) -> None:
    contact = create_contact(client, first_name="Ana", attributes={"a": 1})
    same = patch(client, "/api/contacts", contact, first_name="Ana", attributes={"a": 1, "z": None})
    assert same.status_code == 200
    assert same.json() == contact
    assert same.headers["etag"] == '"1"'
    changed = patch(client, "/api/contacts", contact, first_name=None).json()
    assert changed["first_name"] is None
    assert changed["version"] == 2
    assert when(changed["updated_at"]) > when(contact["updated_at"])


def test_a_contact_can_move_to_another_account_that_exists(client: Client) -> None:
    acme, globex = create_account(client, "Acme"), create_account(client, "Globex")
    contact = create_contact(client, account_id=acme["id"])
    contact = patch(client, "/api/contacts", contact, account_id=globex["id"]).json()
    assert contact["account_id"] == globex["id"]
    contact = patch(client, "/api/contacts", contact, account_id=None).json()
    assert contact["account_id"] is None


def test_deleting_a_contact_needs_the_current_etag_and_leaves_its_leads_without_it(
    app_client: Client, auth: KeyMaker
) -> None:
    app_client.headers.update(auth(Role.MARKETER))
    contact = create_contact(
        app_client, email="ana@example.com", consent={"level": "marketing", "source": "form"}
    )
    lead = create_lead(app_client, parent_contact_id=contact["id"])
    visit = {"kind": "page_visit", "occurred_at": "2026-01-15T10:00:00Z"}
    batch = [{**visit, "contact_id": contact["id"]}, {**visit, "lead_id": lead["id"]}]
    assert app_client.post("/api/interactions", json={"interactions": batch}).status_code == 201
    assert app_client.delete(f"/api/contacts/{contact['id']}").status_code == 428
    stale = app_client.delete(f"/api/contacts/{contact['id']}", headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert app_client.get(f"/api/contacts/{contact['id']}").status_code == 200
    assert remove(app_client, "/api/contacts", contact).status_code == 204
    assert app_client.get(f"/api/contacts/{contact['id']}").status_code == 404
    assert app_client.get(f"/api/leads/{lead['id']}").json()["parent_contact_id"] is None
    interactions = app_client.get("/api/interactions").json()["items"]
    assert [(i["contact_id"], i["lead_id"]) for i in interactions] == [
        (None, None),
        (None, lead["id"]),
    ]
    assert remove(app_client, "/api/contacts", contact).status_code == 404


def test_unknown_contacts_are_404_problems(client: Client) -> None:
    contact = {"id": 999, "version": 1}
    for response in (
        client.get("/api/contacts/999"),
        patch(client, "/api/contacts", contact, first_name="x"),
        client.get("/api/contacts/999/consent"),
        client.post("/api/contacts/999/consent", json={"level": "marketing", "source": "call"}),
    ):
        assert response.status_code == 404, response.request.url
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"] == "there is no contact 999"


# -- accounts -------------------------------------------------------------------------------


def test_an_account_is_created_and_read_back_with_its_etag(client: Client) -> None:
    account = create_account(
        client,
        "Acme",
        industry="retail",
        employees=0,
        revenue=1.5e6,
        country="FR",
        attributes={"tier": "gold"},
    )
    assert (account["name"], account["employees"], account["revenue"]) == ("Acme", 0, 1.5e6)
    assert account["version"] == 1
    read = client.get(f"/api/accounts/{account['id']}")
    assert read.headers["etag"] == '"1"'
    assert read.json() == account


def test_bad_account_fields_are_named_and_nothing_is_written(client: Client) -> None:
    response = client.post(
        "/api/accounts", json={"name": "Acme", "employees": -1, "revenue": -5, "size": "big"}
    )
    assert response.status_code == 422
    assert set(problem_fields(response)) == {"employees", "revenue", "size"}
    response = client.post("/api/accounts", json={"industry": "retail"})
    assert response.status_code == 422
    assert set(problem_fields(response)) == {"name"}
    assert client.get("/api/accounts").json()["items"] == []


def test_accounts_are_filtered_by_name_and_paged(client: Client) -> None:
    accounts = [create_account(client, name) for name in ("Acme", "Globex", "Acme", "Initech")]
    assert ids(client, "/api/accounts?name=Acme") == [accounts[0]["id"], accounts[2]["id"]]
    assert ids(client, "/api/accounts?name=Umbrella") == []
    assert every_page(client, "/api/accounts", 3) == [a["id"] for a in accounts]
    assert client.get("/api/accounts?limit=201").status_code == 422


def test_an_account_update_merges_attributes_and_checks_its_etag(client: Client) -> None:
    account = create_account(client, attributes={"tier": "gold", "region": "eu"})
    assert client.patch(f"/api/accounts/{account['id']}", json={"name": "B"}).status_code == 428
    updated = patch(client, "/api/accounts", account, employees=12, attributes={"tier": None})
    assert updated.status_code == 200
    account_v2 = updated.json()
    assert account_v2["employees"] == 12
    assert account_v2["attributes"] == {"region": "eu"}
    assert account_v2["version"] == 2
    assert patch(client, "/api/accounts", account, name="Stale").status_code == 412
    same = patch(client, "/api/accounts", account_v2, employees=12)
    assert same.json()["version"] == 2
    assert client.get(f"/api/accounts/{account['id']}").json() == account_v2


def test_an_invalid_account_update_writes_nothing(client: Client) -> None:
    account = create_account(client)
    for body, field in [
        ({"name": None}, "name"),
        ({"country": "FR", "employees": -3}, "employees"),
        ({"country": "FR", "website": "acme.test"}, "website"),
    ]:
        response = patch(client, "/api/accounts", account, **body)
        assert response.status_code == 422, body
        assert field in problem_fields(response)
    assert client.get(f"/api/accounts/{account['id']}").json() == account


def test_deleting_an_account_leaves_its_contacts_and_leads_without_it(
    app_client: Client, auth: KeyMaker
) -> None:
    app_client.headers.update(auth(Role.MARKETER))
    account = create_account(app_client)
    contact = create_contact(app_client, account_id=account["id"])
    lead = create_lead(app_client, parent_account_id=account["id"])
    assert app_client.delete(f"/api/accounts/{account['id']}").status_code == 428
    assert remove(app_client, "/api/accounts", {**account, "version": 2}).status_code == 412
    assert remove(app_client, "/api/accounts", account).status_code == 204
    assert app_client.get(f"/api/accounts/{account['id']}").status_code == 404
    assert app_client.get(f"/api/contacts/{contact['id']}").json()["account_id"] is None
    assert app_client.get(f"/api/leads/{lead['id']}").json()["parent_account_id"] is None


def test_unknown_accounts_are_404_problems(client: Client) -> None:
    assert client.get("/api/accounts/999").json()["detail"] == "there is no account 999"
    response = patch(client, "/api/accounts", {"id": 999, "version": 1}, name="x")
    assert response.status_code == 404


# -- who may do what ------------------------------------------------------------------------


def test_every_role_may_create_and_read_but_only_marketers_and_admins_delete(
    app_client: Client, auth: KeyMaker
) -> None:
    for role in Role:
        headers = auth(role)
        contact = app_client.post("/api/contacts", json={}, headers=headers)
        account = app_client.post("/api/accounts", json={"name": "Acme"}, headers=headers)
        assert (contact.status_code, account.status_code) == (201, 201), role
        assert app_client.get("/api/contacts", headers=headers).status_code == 200
        may_delete = role in (Role.MARKETER, Role.ADMIN)
        for path, record in (("/api/contacts", contact.json()), ("/api/accounts", account.json())):
            response = app_client.delete(
                f"{path}/{record['id']}", headers={**headers, "If-Match": '"1"'}
            )
            assert response.status_code == (204 if may_delete else 403), (role, path)
    assert app_client.get("/api/contacts").status_code == 401


# -- consent --------------------------------------------------------------------------------


def give(client: Client, contact: Json, level: str, source: str, **extra: Any) -> Json:
    response = client.post(
        f"/api/contacts/{contact['id']}/consent", json={"level": level, "source": source, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def consent_history(client: Client, contact: Json) -> list[Json]:
    response = client.get(f"/api/contacts/{contact['id']}/consent")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def test_a_contact_created_with_consent_has_it_recorded(client: Client) -> None:
    contact = create_contact(
        client,
        email="ana@example.com",
        consent={"level": "marketing", "source": "form:webinar-2026", "note": "ticked the box"},
    )
    assert contact["consent_level"] == "marketing"
    [change] = consent_history(client, contact)
    assert (change["previous_level"], change["level"]) == ("none", "marketing")
    assert (change["source"], change["note"]) == ("form:webinar-2026", "ticked the box")
    assert when(change["at"]) >= when(contact["created_at"])


def test_a_contact_created_without_consent_has_no_consent_history(client: Client) -> None:
    contact = create_contact(client, email="ana@example.com")
    assert contact["consent_level"] == "none"
    assert consent_history(client, contact) == []


def test_consent_is_given_and_withdrawn_without_if_match_and_kept_in_order(
    client: Client,
) -> None:
    contact = create_contact(client, email="ana@example.com")
    given = give(client, contact, "subscriptions", "form:newsletter")
    assert given["consent_level"] == "subscriptions"
    assert given["version"] == 2
    raised = give(client, given, "profiling", "call", note="agreed on the phone")
    withdrawn = give(client, raised, "none", "unsubscribe link")
    assert withdrawn["consent_level"] == "none"
    assert withdrawn["version"] == 4
    read = client.get(f"/api/contacts/{contact['id']}")
    assert read.headers["etag"] == '"4"'
    assert read.json()["consent_level"] == "none"
    history = consent_history(client, contact)
    assert [(h["previous_level"], h["level"], h["source"]) for h in history] == [
        ("none", "subscriptions", "form:newsletter"),
        ("subscriptions", "profiling", "call"),
        ("profiling", "none", "unsubscribe link"),
    ]
    assert [h["note"] for h in history] == [None, "agreed on the phone", None]
    times = [when(h["at"]) for h in history]
    assert times == sorted(times)


def test_withdrawing_consent_ignores_a_stale_etag(client: Client) -> None:
    contact = create_contact(client, consent={"level": "marketing", "source": "form"})
    assert patch(client, "/api/contacts", contact, first_name="Ana").status_code == 200
    response = client.post(
        f"/api/contacts/{contact['id']}/consent",
        json={"level": "none", "source": "email reply"},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 200
    assert response.json()["consent_level"] == "none"


def test_a_consent_statement_needs_a_known_level_and_a_source(client: Client) -> None:
    contact = create_contact(client)
    url = f"/api/contacts/{contact['id']}/consent"
    response = client.post(url, json={"level": "all", "source": "call"})
    assert response.status_code == 422
    assert set(problem_fields(response)) == {"level"}
    response = client.post(url, json={"level": "marketing"})
    assert response.status_code == 422
    assert set(problem_fields(response)) == {"source"}
    assert consent_history(client, contact) == []
    assert client.get(f"/api/contacts/{contact['id']}").json() == contact


def test_consent_cannot_be_changed_through_a_contact_update(client: Client) -> None:
    contact = create_contact(client)
    response = patch(client, "/api/contacts", contact, consent={"level": "marketing"})
    assert response.status_code == 422
    assert set(problem_fields(response)) == {"consent"}


def test_a_long_consent_history_comes_in_pages(client: Client) -> None:
    contact = create_contact(client)
    for level in ("marketing", "none", "transactional", "none", "profiling"):
        contact = give(client, contact, level, "call")
    url = f"/api/contacts/{contact['id']}/consent"
    first = client.get(f"{url}?limit=2").json()
    assert [h["level"] for h in first["items"]] == ["marketing", "none"]
    assert first["next_cursor"] is not None
    levels = [h["level"] for h in client.get(url).json()["items"]]
    assert levels == ["marketing", "none", "transactional", "none", "profiling"]
    assert every_page(client, url, 2) == [h["id"] for h in client.get(url).json()["items"]]
