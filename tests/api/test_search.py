"""Finding leads and contacts: by text (contains or prefix, any case), by a model's score and
grade, by created and updated time; sorted by score, created or last activity, a page at a
time; within what the caller may see."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import Service
from api.services.imports import import_csv
from api.services.imports.options import Options
from api.services.keys import Role
from bpf.actors import Actor, ActorKind
from leads.csvimport import Kind
from tests.api.test_contacts import create_contact, patch, problem_fields, remove
from tests.api.test_queues import SCORED, key_for
from tests.api.test_scoring import interact, live
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]


@pytest.fixture
def admin(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.ADMIN))
    return app_client


def lead(client: Client, **fields: Any) -> Json:
    response = client.post("/api/leads", json={"topic": "Pricing", **fields})
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


def found(client: Client, path: str = "/api/leads", **params: Any) -> list[int]:
    """Every match, following the cursor two at a time."""
    seen: list[int] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def refused(client: Client, path: str = "/api/leads", **params: Any) -> dict[str, str]:
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    return problem_fields(response)


def test_text_finds_leads_by_topic_email_and_their_contacts_name_and_company(
    admin: Client,
) -> None:
    ana = create_contact(
        admin, email="ana.lopez@example.com", first_name="Ana", last_name="López", company="Acme"
    )
    bob = create_contact(admin, email="bob@other.org", first_name="Bob", company="Globex")
    by_topic = lead(admin, topic="Warehouse ANALYTICS")
    by_email = lead(admin, email="zed@hanalei.io")
    of_ana = lead(admin, parent_contact_id=ana["id"])
    of_bob = lead(admin, parent_contact_id=bob["id"], topic="Billing")

    assert found(admin, q="ana") == [by_topic["id"], by_email["id"], of_ana["id"]]
    assert found(admin, q="AnA LóPeZ") == [of_ana["id"]]
    assert found(admin, q="acme") == [of_ana["id"]]
    assert found(admin, q="other.org") == [of_bob["id"]]
    assert found(admin, q="glob") == [of_bob["id"]]
    assert found(admin, q="nothing like it") == []


def test_a_final_star_asks_for_a_field_that_starts_with_the_text(admin: Client) -> None:
    ana = create_contact(admin, first_name="Ana", last_name="Banana", company="Initech")
    of_ana = lead(admin, parent_contact_id=ana["id"], topic="Renewal")
    analytics = lead(admin, topic="analytics")
    lead(admin, topic="Banking")

    assert found(admin, q="an*") == [of_ana["id"], analytics["id"]]
    assert found(admin, q="bana*") == [of_ana["id"]]
    assert found(admin, q="nana*") == []
    assert found(admin, q="ren*") == [of_ana["id"]]
    assert found(admin, q="ana ban*") == [of_ana["id"]]  # the full name is a field too
    assert found(admin, q="a%*") == [] and found(admin, q="a_a*") == []  # no wildcards


def test_the_text_follows_changes_of_the_lead_and_of_its_contact(admin: Client) -> None:
    ana = create_contact(admin, first_name="Ana", company="Acme")
    of_ana = lead(admin, parent_contact_id=ana["id"], topic="Pricing")
    response = patch(admin, "/api/contacts", ana, company="Umbrella")
    assert response.status_code == 200, response.text
    assert found(admin, q="acme") == []
    assert found(admin, q="umbrella") == [of_ana["id"]]

    current = admin.get(f"/api/leads/{of_ana['id']}").json()
    moved = patch(admin, "/api/leads", current, topic="Onboarding")
    assert moved.status_code == 200, moved.text
    assert found(admin, q="pricing") == []
    assert found(admin, q="onboard*") == [of_ana["id"]]

    assert remove(admin, "/api/contacts", response.json()).status_code == 204
    assert found(admin, q="umbrella") == []
    assert found(admin, q="onboarding") == [of_ana["id"]]


def test_contacts_are_found_by_email_name_and_company(admin: Client) -> None:
    ana = create_contact(admin, email="ana@acme.com", first_name="Ana", last_name="Smith")
    bob = create_contact(admin, email="bob@b.org", first_name="Bob", company="Smithers Ltd")
    cy = create_contact(admin, email="cy@c.org", first_name="Cy")

    assert found(admin, "/api/contacts", q="smith") == [ana["id"], bob["id"]]
    assert found(admin, "/api/contacts", q="smit*") == [ana["id"], bob["id"]]
    assert found(admin, "/api/contacts", q="ACME") == [ana["id"]]
    assert found(admin, "/api/contacts", q="cy*") == [cy["id"]]
    assert found(admin, "/api/contacts", q="ana smith") == [ana["id"]]
    assert list(refused(admin, "/api/contacts", q="sm")) == ["q"]


def test_text_too_short_or_with_a_star_inside_is_refused(admin: Client) -> None:
    """The API's schema states the rule: 3 characters to contain, 2 before a final *."""
    for q in ("an", "a*", "a*na", "*", "ana**"):
        assert list(refused(admin, q=q)) == ["q"], q
    assert found(admin, q="an*") == found(admin, q="ana") == []


def test_a_nul_in_a_filter_is_refused_not_a_server_error(admin: Client) -> None:
    for name in ("q", "owner", "process", "stage", "grade"):
        assert name in refused(admin, **{name: "ab\x00cd"}), name


def scored_leads(admin: Client) -> tuple[Json, dict[str, Json]]:
    """A live model scoring hot 50, warm 20, cold 0 (grades by score), and one lead each."""
    definition = {
        **SCORED,
        "grades": [
            {"name": "A", "min": 40},
            {"name": "B", "min": 10, "max": 40},
            {"name": "C", "max": 10},
        ],
    }
    leads = {topic: lead(admin, topic=topic) for topic in ("warm", "cold", "hot")}
    model = live(admin, definition)
    return model, leads


def test_leads_are_found_and_sorted_by_a_models_score_and_grade(admin: Client) -> None:
    model, leads = scored_leads(admin)
    hot, warm, cold = leads["hot"]["id"], leads["warm"]["id"], leads["cold"]["id"]
    m = model["id"]

    assert found(admin, model=m, sort="-score") == [hot, warm, cold]
    assert found(admin, model=m, sort="score") == [cold, warm, hot]
    assert found(admin, model=m, score_min=10, score_max=20) == [warm]
    assert found(admin, model=m, score_min=20, sort="-score") == [hot, warm]
    assert found(admin, model=m, grade="A") == [hot]
    assert found(admin, model=m, grade="B", q="war*") == [warm]
    items = admin.get("/api/leads", params={"model": m, "sort": "-score", "q": "hot"}).json()
    assert [item["id"] for item in items["items"]] == [hot]


def test_score_filters_need_a_model_that_exists_and_a_range_in_order(admin: Client) -> None:
    model, _ = scored_leads(admin)
    assert refused(admin, score_min=1) == {"score_min": "needs model: the scoring model's id"}
    assert refused(admin, grade="A") == {"grade": "needs model: the scoring model's id"}
    assert refused(admin, sort="-score") == {"sort": "needs model: the scoring model's id"}
    assert refused(admin, model=9999) == {"model": "there is no scoring model 9999"}
    assert refused(admin, model=model["id"], score_min=5, score_max=1) == {
        "score_max": "must not be below score_min"
    }
    assert "score_min" in refused(admin, model=model["id"], score_min="lots")


def test_leads_are_found_by_created_and_updated_time(admin: Client) -> None:
    first, second, third = (lead(admin, topic=f"lead {n}") for n in range(3))
    assert found(admin, created_after=first["created_at"]) == [second["id"], third["id"]]
    assert found(admin, created_before=third["created_at"]) == [first["id"], second["id"]]
    between = {"created_after": first["created_at"], "created_before": third["created_at"]}
    assert found(admin, **between) == [second["id"]]

    changed = patch(admin, "/api/leads", first, topic="changed").json()
    assert found(admin, updated_after=third["updated_at"]) == [first["id"]]
    assert found(admin, updated_before=changed["updated_at"]) == [second["id"], third["id"]]
    # A time says its zone, as a body's does.
    naive = dt.datetime.fromisoformat(third["updated_at"]).replace(tzinfo=None).isoformat()
    assert "updated_after" in refused(admin, updated_after=naive)


def test_bad_or_reversed_time_ranges_are_refused(admin: Client) -> None:
    assert "created_after" in refused(admin, created_after="yesterday")
    assert "created_after" in refused(admin, created_after="0.5")
    assert "updated_before" in refused(admin, updated_before="2026-13-01T00:00:00Z")
    reversed_range = {
        "created_after": "2026-06-02T00:00:00Z",
        "created_before": "2026-06-01T00:00:00Z",
    }
    assert refused(admin, **reversed_range) == {
        "created_before": "must be later than created_after"
    }
    assert refused(admin, sort="oldest")


def test_leads_sort_by_created_either_way_a_page_at_a_time(admin: Client) -> None:
    made = [lead(admin, topic=f"lead {n}")["id"] for n in range(5)]
    assert found(admin, sort="created") == made
    assert found(admin, sort="-created") == made[::-1]
    assert found(admin, sort="-created", q="lead") == made[::-1]


def test_leads_sort_by_last_activity_their_own_or_their_contacts(admin: Client) -> None:
    ana = create_contact(admin, email="ana@example.com")
    quiet = lead(admin, topic="quiet")
    of_ana = lead(admin, parent_contact_id=ana["id"])
    own = lead(admin, topic="own")
    now = dt.datetime.now(dt.UTC)

    def days_ago(days: int) -> str:
        return (now - dt.timedelta(days=days)).isoformat()

    interact(
        admin,
        {"kind": "page_visit", "lead_id": own["id"], "occurred_at": days_ago(2)},
        {"kind": "email_open", "contact_id": ana["id"], "occurred_at": days_ago(1)},
        {"kind": "email_open", "lead_id": own["id"], "occurred_at": days_ago(3)},
    )
    assert found(admin, sort="-last_activity") == [of_ana["id"], own["id"], quiet["id"]]
    assert found(admin, sort="last_activity") == [quiet["id"], own["id"], of_ana["id"]]


def test_a_cursor_belongs_to_its_sort(admin: Client) -> None:
    for n in range(3):
        lead(admin, topic=f"lead {n}")
    by_created = admin.get("/api/leads", params={"sort": "created", "limit": 1}).json()
    by_id = admin.get("/api/leads", params={"limit": 1}).json()
    assert refused(admin, cursor=by_created["next_cursor"]) == {
        "cursor": "not a cursor this API returned"
    }
    assert refused(admin, sort="created", cursor=by_id["next_cursor"]) == {
        "cursor": "not a cursor this API returned for this sort"
    }


def test_search_keeps_to_the_leads_a_salesperson_may_see(
    admin: Client, app_client: Client, service: Service
) -> None:
    for handle, team in (("ana", "north"), ("bo", "north"), ("cy", "south")):
        answer = admin.post("/api/sellers", json={"handle": handle, "name": handle, "team": team})
        assert answer.status_code == 201, answer.text
    mine = lead(admin, topic="Pricing north", owner="ana")
    teammate = lead(admin, topic="Pricing north too", owner="bo")
    lead(admin, topic="Pricing south", owner="cy")
    lead(admin, topic="Pricing nobody")
    headers = key_for(service, Role.SALESPERSON, "ana")
    response = app_client.get("/api/leads", params={"q": "pricing"}, headers=headers)
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [mine["id"], teammate["id"]]
    response = app_client.get(
        "/api/leads", params={"q": "pricing", "sort": "-created"}, headers=headers
    )
    assert [item["id"] for item in response.json()["items"]] == [teammate["id"], mine["id"]]


@pytest.mark.parametrize("skip_bad_rows", [False, True])
def test_imported_contacts_and_leads_are_found_batch_after_batch(
    admin: Client, service: Service, skip_bad_rows: bool
) -> None:
    """A bulk import fills the documents of each batch at its end, a batch's records once."""
    before = create_contact(admin, email="zoe@before.org", company="Wayne")
    contacts = (
        "email,first_name,last_name,company,consent_level\n"
        "ana@acme.com,Ana,Lopez,Acme,\n"
        "bob@acme.com,Bob,Smith,Acme,marketing\n"
        "cy@globex.com,Cy,Kim,Globex,\n"
        "dee@globex.com,Dee,Silva,Globex,\n"
        "ed@initech.com,Ed,Berg,Initech,\n"
    )
    options = Options(batch_rows=2, skip_bad_rows=skip_bad_rows)
    report = import_csv(
        service.db,
        service.catalog,
        Kind.CONTACTS,
        contacts.splitlines(keepends=True),
        options=options,
        actor=Actor(ActorKind.USER, "importer"),
    )
    assert report.created == 5
    by_email = {c["email"]: c["id"] for c in admin.get("/api/contacts").json()["items"]}
    assert found(admin, "/api/contacts", q="acme") == sorted(
        [by_email["ana@acme.com"], by_email["bob@acme.com"]]
    )
    assert found(admin, "/api/contacts", q="globex") == sorted(
        [by_email["cy@globex.com"], by_email["dee@globex.com"]]
    )
    assert found(admin, "/api/contacts", q="wayne") == [before["id"]]
    assert found(admin, "/api/contacts", q="berg*") == [by_email["ed@initech.com"]]

    leads = (
        "topic,email,parent_contact_id\n"
        f"Pricing,ana@acme.com,{by_email['ana@acme.com']}\n"
        "Analytics,x@y.org,\n"
        f"Renewal,cy@globex.com,{by_email['cy@globex.com']}\n"
    )
    report = import_csv(
        service.db,
        service.catalog,
        Kind.LEADS,
        leads.splitlines(keepends=True),
        options=options,
        actor=Actor(ActorKind.USER, "importer"),
    )
    assert report.created == 3
    ids = {item["topic"]: item["id"] for item in admin.get("/api/leads").json()["items"]}
    assert found(admin, q="acme") == [ids["Pricing"]]
    assert found(admin, q="lopez") == [ids["Pricing"]]
    assert found(admin, q="an*") == [ids["Pricing"], ids["Analytics"]]
    assert found(admin, q="globex") == [ids["Renewal"]]
    # Written one at a time afterwards, a record has its document from the trigger.
    assert found(admin, q="later*") == []
    later = lead(admin, topic="Later", parent_contact_id=by_email["ed@initech.com"])
    assert found(admin, q="initech") == [later["id"]]
