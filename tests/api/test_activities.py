"""Activities over HTTP: the ones stages make on entry, on every path that moves a lead; the
ones made by hand; listing, completing and canceling them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlmodel import func, select

from api.app import Service, create_app, open_service
from api.services.keys import Role, create_key
from api.settings import Settings
from leads.activities import Activity
from leads.types import utcnow
from tests.api.closing import ensure_seller
from tests.api.test_assignment import rule, seller
from tests.api.test_qualification import ENGAGEMENT, opens, person_lead, published
from tests.api.test_queues import key_for
from tests.api.test_scoring import live, score, wait
from tests.conftest import BUNDLED_STAGES, KeyMaker

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]

TA = "teleprospecting_acceptance"
SA = "sales_acceptance"


def create(client: Client, **fields: Any) -> Json:
    response = client.post("/api/leads", json={"topic": "Pricing webinar", **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def changed(response: Any) -> Json:
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def patch(client: Client, lead: Json, **body: Any) -> Json:
    return changed(
        client.patch(
            f"/api/leads/{lead['id']}", json=body, headers={"If-Match": f'"{lead["version"]}"'}
        )
    )


def move(client: Client, lead: Json, **body: Any) -> Json:
    return changed(
        client.post(
            f"/api/leads/{lead['id']}/stage",
            json=body,
            headers={"If-Match": f'"{lead["version"]}"'},
        )
    )


def of_lead(client: Client, lead_id: int, query: str = "") -> list[Json]:
    response = client.get(f"/api/leads/{lead_id}/activities{query}")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def summary(activities: list[Json]) -> list[tuple[str, str, str | None, str | None]]:
    return [(a["kind"], a["subject"], a["source_stage"], a["owner"]) for a in activities]


def parse(when: str) -> dt.datetime:
    return dt.datetime.fromisoformat(when)


CALL = ("phone_call", "Call the lead", TA)
REVIEW = ("task", "Review and accept the lead", SA)


def test_entering_a_stage_makes_its_activities_for_the_owner(client: Client) -> None:
    ensure_seller(client, "tom")
    lead = create(client, owner="tom")
    assert of_lead(client, lead["id"]) == []
    before = utcnow()
    lead = patch(client, lead, attributes={"teleprospecting_ready": True})
    assert lead["stage"] == TA
    [call] = of_lead(client, lead["id"])
    assert (call["kind"], call["subject"], call["owner"]) == ("phone_call", "Call the lead", "tom")
    assert (call["status"], call["source"]) == ("open", "stage_entry")
    assert (call["source_process"], call["source_stage"]) == ("lead_to_opportunity", TA)
    assert "minimum criteria" in call["description"]
    due = parse(call["due_at"]) - parse(call["created_at"])
    assert due == dt.timedelta(days=1)
    assert parse(call["created_at"]) >= before

    # Accepting moves it on to Teleprospecting qualification, which declares none; clearing
    # the owner leaves the open call nobody's; sales ready hands it to Sales acceptance, whose
    # task is for the salesperson, unowned so far.
    lead = patch(client, lead, owner=None, attributes={"teleprospect_accepted": True})
    assert summary(of_lead(client, lead["id"])) == [(*CALL, None)]
    lead = patch(client, lead, sales_ready=True)
    assert lead["stage"] == SA
    assert summary(of_lead(client, lead["id"])) == [(*CALL, None), (*REVIEW, None)]


def test_a_lead_passing_through_stages_gets_those_of_the_stage_it_stays_in(
    client: Client,
) -> None:
    ensure_seller(client, "tom")
    lead = create(client, owner="tom", attributes={"teleprospecting_ready": True})
    assert lead["stage"] == TA
    assert summary(of_lead(client, lead["id"])) == [(*CALL, "tom")]
    # One change that fires two moves: into Teleprospecting qualification, then to sales.
    lead = patch(client, lead, sales_ready=True, attributes={"teleprospect_accepted": True})
    assert lead["stage"] == SA
    assert summary(of_lead(client, lead["id"])) == [(*CALL, "tom"), (*REVIEW, "tom")]


def test_switching_to_a_stage_or_process_is_entering_it(client: Client) -> None:
    ensure_seller(client, "ana")
    lead = create(client, owner="ana")
    lead = move(client, lead, to=SA, reason="called us")
    lead = move(client, lead, to="inquiry", reason="too early")
    lead = move(client, lead, to=SA, reason="ready after all")
    assert summary(of_lead(client, lead["id"])) == [(*REVIEW, "ana"), (*REVIEW, "ana")]
    refused = client.post(
        f"/api/leads/{lead['id']}/stage",
        json={"to": TA, "reason": "x"},
        headers={"If-Match": '"1"'},
    )
    assert refused.status_code == 412
    assert len(of_lead(client, lead["id"])) == 2


def test_a_refused_move_makes_no_activity(client: Client) -> None:
    lead = create(client, attributes={"teleprospecting_ready": True})
    refused = client.post(
        f"/api/leads/{lead['id']}/stage",
        json={"action": "next"},
        headers={"If-Match": f'"{lead["version"]}"'},
    )
    assert refused.status_code == 409
    assert len(of_lead(client, lead["id"])) == 1


def test_scoring_outcomes_in_a_full_evaluation_make_activities_in_bulk(
    app_client: Client, auth: KeyMaker, service: Service
) -> None:
    for i in range(5):
        ensure_seller(app_client, f"seller{i}", auth(Role.ADMIN))
    app_client.headers.update(auth(Role.MARKETER))
    leads = [create(app_client, owner=f"seller{i}") for i in range(5)]
    rule = {
        "type": "attribute",
        "name": "has a topic",
        "when": {"field": "lead.topic", "op": "contains", "value": "webinar"},
        "points": 50,
    }
    live(app_client, {"rules": [rule], "sales_ready_score": 40})
    for i, lead in enumerate(leads):
        read = app_client.get(f"/api/leads/{lead['id']}").json()
        assert read["stage"] == SA
        assert summary(of_lead(app_client, lead["id"])) == [(*REVIEW, f"seller{i}")]
    # Evaluating again fires nothing and makes nothing.
    wait(app_client, app_client.post("/api/evaluations").json()["id"])
    with service.db.read() as session:
        assert session.exec(select(func.count()).select_from(Activity)).one() == 5


def test_an_incremental_outcome_makes_the_activity_in_its_transaction(
    app_client: Client, auth: KeyMaker
) -> None:
    ensure_seller(app_client, "ana", auth(Role.ADMIN))
    app_client.headers.update(auth(Role.MARKETER))
    live(
        app_client,
        {
            "rules": [{"type": "behaviour", "name": "opens", "kind": "email_open", "points": 5}],
            "sales_ready_score": 10,
        },
    )
    person = app_client.post("/api/contacts", json={"email": "s@x.io"}).json()
    lead = create(app_client, parent_contact_id=person["id"], owner="ana")
    opens = {"kind": "email_open", "occurred_at": utcnow().isoformat(), "contact_id": person["id"]}
    response = app_client.post("/api/interactions", json={"interactions": [opens, opens]})
    assert response.status_code == 201, response.text
    assert app_client.get(f"/api/leads/{lead['id']}").json()["stage"] == SA
    assert summary(of_lead(app_client, lead["id"])) == [(*REVIEW, "ana")]
    # The scheduler's full evaluation afterwards changes nothing.
    wait(app_client, app_client.post("/api/evaluations").json()["id"])
    assert len(of_lead(app_client, lead["id"])) == 1


def test_an_import_makes_the_activities_of_the_stages_its_leads_enter(
    app_client: Client, auth: KeyMaker
) -> None:
    for handle in ("ana", "bo"):
        ensure_seller(app_client, handle, auth(Role.ADMIN))
    app_client.headers.update(auth(Role.MARKETER))
    body = "topic,owner,teleprospecting_ready\nfirst,ana,true\nsecond,bo,false\nthird,,yes\n"
    response = app_client.post(
        "/api/imports/leads", content=body.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    leads = app_client.get("/api/leads").json()["items"]
    made = {lead["topic"]: summary(of_lead(app_client, lead["id"])) for lead in leads}
    assert made == {"first": [(*CALL, "ana")], "second": [], "third": [(*CALL, None)]}


def test_renaming_a_stage_moves_leads_without_new_activities(
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
            lead = create(client, sales_ready=True)
            assert len(of_lead(client, lead["id"])) == 1
            renamed = BUNDLED_STAGES.read_text().replace(SA, "sales_review")
            renamed = renamed.replace(
                "    automations:", f"    renamed:\n      {SA}: sales_review\n    automations:"
            )
            path.write_text(renamed)
            reloaded = client.post("/api/processes/reload")
            assert reloaded.status_code == 200, reloaded.text
            assert client.get(f"/api/leads/{lead['id']}").json()["stage"] == "sales_review"
            assert summary(of_lead(client, lead["id"])) == [(*REVIEW, None)]
    finally:
        service.db.dispose()


def test_a_stages_file_without_activities_makes_none(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "stages.yaml"
    text = BUNDLED_STAGES.read_text()
    while "        activities:" in text:
        start = text.index("        activities:")
        end = text.index("\n\n", start)
        text = text[:start] + text[end + 1 :]
    path.write_text(text)
    service = open_service(
        Settings(database_url=database_url, stages_file=path, periodic_jobs=False)
    )
    try:
        assert service.catalog.declares_activities is False
        with TestClient(create_app(service)) as client:
            with service.db.write() as session:
                _, secret = create_key(session, Role.ADMIN, "admin")
            client.headers["Authorization"] = f"Bearer {secret}"
            lead = create(client, sales_ready=True)
            assert lead["stage"] == SA
            assert of_lead(client, lead["id"]) == []
    finally:
        service.db.dispose()


# -- by hand, listing, completing and canceling ---------------------------------------------


SLOT = {"starts_at": "2026-12-24T10:00:00Z", "ends_at": "2026-12-24T11:00:00Z"}


def make(client: Client, lead: Json, **fields: Any) -> Any:
    """An activity made by hand: an appointment (with its slot) unless `kind` says."""
    body = {"lead_id": lead["id"], "kind": "appointment", "subject": "Demo", **fields}
    if body["kind"] == "appointment":
        body = {**SLOT, **body}
    return client.post("/api/activities", json=body)


def test_an_activity_made_by_hand_is_owned_by_the_lead_owner_unless_named(
    client: Client,
) -> None:
    ensure_seller(client, "ana")
    lead = create(client, owner="ana")
    response = make(client, lead, due_at="2026-12-24T10:00:00+01:00", description="In person")
    assert response.status_code == 201, response.text
    made = response.json()
    assert response.headers["etag"] == '"1"'
    assert (made["owner"], made["source"], made["created_by"]) == (
        "ana",
        "manual",
        "admin tester",
    )
    assert parse(made["due_at"]) == dt.datetime(2026, 12, 24, 9, tzinfo=dt.UTC)
    other = make(client, lead, kind="task", due_in="3h", owner="bo").json()
    assert other["owner"] == "bo"
    assert parse(other["due_at"]) - parse(other["created_at"]) == dt.timedelta(hours=3)
    nobody = make(client, lead, due_in="1w", owner=None).json()
    assert nobody["owner"] is None
    assert client.get(f"/api/activities/{made['id']}").json() == made


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"kind": "meeting"}, "kind", "'task', 'phone_call' or 'appointment'"),
        ({"due_in": "2 days"}, "due_in", "is not a duration"),
        ({"due_in": "2h", "due_at": "2026-12-24T10:00:00Z"}, "body", "exactly one of"),
        ({"due_in": None}, "body", "exactly one of"),
        ({"due_at": "2026-12-24T10:00:00"}, "due_at", "timezone"),
        ({"subject": ""}, "subject", "at least 1"),
        ({"colour": "red"}, "colour", "extra"),
    ],
)
def test_a_bad_activity_names_the_field_and_makes_nothing(
    client: Client, body: Json, field: str, reason: str
) -> None:
    lead = create(client)
    response = make(client, lead, **{"due_in": "1d", **body})
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert reason.lower() in errors[field].lower(), errors
    assert of_lead(client, lead["id"]) == []


def test_an_activity_needs_an_open_lead_that_exists(client: Client) -> None:
    response = client.post(
        "/api/activities",
        json={"lead_id": 999, "kind": "task", "subject": "x", "due_in": "1d"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "lead_id", "reason": "there is no lead 999"}]
    lead = create(client)
    closed = client.post(
        f"/api/leads/{lead['id']}/disqualify", json={"reason": "lost"}, headers={"If-Match": '"1"'}
    )
    assert closed.status_code == 200
    response = make(client, lead, due_in="1d")
    assert response.status_code == 409
    assert "is disqualified (lost)" in response.json()["detail"]


def test_complete_and_cancel_need_the_version_and_an_open_activity(client: Client) -> None:
    lead = create(client)
    a = make(client, lead, due_in="1d").json()
    b = make(client, lead, due_in="2d").json()
    url = f"/api/activities/{a['id']}"
    assert client.post(f"{url}/complete").status_code == 428
    assert client.post(f"{url}/complete", headers={"If-Match": '"7"'}).status_code == 412
    done = client.post(
        f"{url}/complete", json={"note": "Booked for Tuesday"}, headers={"If-Match": '"1"'}
    )
    assert done.status_code == 200, done.text
    assert done.headers["etag"] == '"2"'
    done_json = done.json()
    assert (done_json["status"], done_json["completed_by"], done_json["outcome"]) == (
        "completed",
        "admin tester",
        "Booked for Tuesday",
    )
    assert done_json["completed_at"] is not None and done_json["canceled_at"] is None

    refused = client.post(f"{url}/cancel", headers={"If-Match": '"2"'})
    assert refused.status_code == 409
    assert "was completed at" in refused.json()["detail"]
    assert "by admin tester" in refused.json()["detail"]
    assert refused.json()["current_status"] == "completed"

    canceled = client.post(f"/api/activities/{b['id']}/cancel", headers={"If-Match": '"1"'})
    assert canceled.status_code == 200
    assert canceled.json()["canceled_by"] == "admin tester"
    refused = client.post(f"/api/activities/{b['id']}/complete", headers={"If-Match": '"2"'})
    assert refused.status_code == 409
    assert "was canceled" in refused.json()["detail"]
    assert "only an open activity can be completed" in refused.json()["detail"]
    assert client.get(f"/api/activities/{b['id']}").json()["status"] == "canceled"
    assert (
        client.post("/api/activities/999/complete", headers={"If-Match": '"1"'}).status_code == 404
    )


def test_the_list_filters_and_pages(client: Client) -> None:
    ensure_seller(client, "ana")
    ensure_seller(client, "bo")
    ana = create(client, owner="ana")
    bo = create(client, owner="bo")
    made = [
        make(client, ana, kind="task", due_at="2026-12-10T09:00:00Z").json(),
        make(client, ana, kind="phone_call", due_at="2026-12-11T09:00:00Z").json(),
        make(client, bo, kind="task", due_at="2026-12-12T09:00:00Z").json(),
        make(client, bo, kind="appointment", due_at="2026-12-13T09:00:00Z").json(),
    ]
    client.post(f"/api/activities/{made[0]['id']}/complete", headers={"If-Match": '"1"'})

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/activities?{query}")
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    first, second, third, fourth = (a["id"] for a in made)
    assert ids(f"lead_id={ana['id']}") == [first, second]
    assert ids("owner=bo") == [third, fourth]
    assert ids("status=open") == [second, third, fourth]
    assert ids("status=completed") == [first]
    assert ids("kind=task") == [first, third]
    assert ids("due_before=2026-12-12T09:00:00Z") == [first, second]
    assert ids("due_after=2026-12-12T09:00:00Z") == [third, fourth]
    assert ids("owner=ana&status=open&due_after=2026-12-11T00:00:00%2B01:00") == [second]
    assert ids(f"status=open&lead_id={bo['id']}") == [third, fourth]
    assert of_lead(client, bo["id"], "?status=open") == made[2:]

    seen: list[int] = []
    cursor = None
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/activities?{query}").json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [first, second, third, fourth]

    for query, field in [
        ("status=sleeping", "status"),
        ("kind=meeting", "kind"),
        ("limit=201", "limit"),
        ("due_before=2026-12-12T09:00:00", "due_before"),
        ("due_before=0.5", "due_before"),  # not a date-time, though pydantic reads epochs
        ("cursor=nonsense", "cursor"),
    ]:
        response = client.get(f"/api/activities?{query}")
        assert response.status_code in (400, 422), (query, response.text)
        assert field in response.text, (query, response.text)
    empty = client.get(
        "/api/activities?due_before=2026-12-01T00:00:00Z&due_after=2026-12-02T00:00:00Z"
    )
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert client.get("/api/leads/999/activities").status_code == 404
    assert client.get("/api/activities/999").status_code == 404


def test_marketers_read_activities_and_people_who_work_leads_change_them(
    app_client: Client, auth: KeyMaker
) -> None:
    app_client.headers.update(auth(Role.ADMIN))
    lead = create(app_client)
    activity = make(app_client, lead, due_in="1d")
    assert activity.status_code == 201
    url = f"/api/activities/{activity.json()['id']}"
    for role in (Role.MARKETER, Role.SERVICE):
        app_client.headers.update(auth(role))
        assert app_client.get(url).status_code == 200
        assert app_client.get("/api/activities").status_code == 200
        assert make(app_client, lead, due_in="1d").status_code == 403
        assert app_client.post(f"{url}/complete", headers={"If-Match": '"1"'}).status_code == 403
    app_client.headers.update(auth(Role.ADMIN))
    assert app_client.post(f"{url}/cancel", headers={"If-Match": '"1"'}).status_code == 200


# -- activities that reach people --------------------------------------------------------


def test_qualification_activities_go_to_the_seller_the_qualification_routed_to(
    client: Client,
) -> None:
    seller(client, "ana")
    rule(client, "all", sellers=["ana"])
    live(client, ENGAGEMENT, "engagement")
    call = {"kind": "phone_call", "subject": "Call the new SQL", "due_in": "4h"}
    published(
        client,
        {"model": "engagement", "score_at_least": 20},
        actions={"sales_ready": True, "activities": [call]},
    )
    person, made = person_lead(client)
    opens(client, person, 4)
    assert client.get(f"/api/leads/{made['id']}").json()["owner"] == "ana"
    found = client.get(f"/api/leads/{made['id']}/activities").json()["items"]
    assert sorted((a["subject"], a["owner"]) for a in found) == [
        ("Call the new SQL", "ana"),
        ("Review and accept the lead", "ana"),
    ]


def test_owner_me_lists_the_callers_open_work_due_first(client: Client, service: Service) -> None:
    seller(client, "ana")
    mine, theirs = create(client), create(client)
    patch(client, mine, owner="ana")
    due = ["2026-12-12T09:00:00Z", "2026-12-10T09:00:00Z", "2026-12-11T09:00:00Z"]
    made = [make(client, mine, kind="task", due_at=when).json() for when in due]
    make(client, theirs, kind="task", due_at="2026-12-01T09:00:00Z", owner="bo")
    client.post(f"/api/activities/{made[2]['id']}/complete", headers={"If-Match": '"1"'})
    ana = key_for(service, Role.SALESPERSON, "ana")
    seen: list[int] = []
    cursor = None
    while True:
        query = {"owner": "me", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/activities", params=query, headers=ana).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [made[1]["id"], made[0]["id"]]
    every = client.get("/api/activities?owner=me&status=completed", headers=ana).json()["items"]
    assert [a["id"] for a in every] == [made[2]["id"]]
    by_id = client.get("/api/activities?owner=ana&sort=id").json()["items"]
    assert [a["id"] for a in by_id] == [a["id"] for a in made]
    nobody = client.get(
        "/api/activities?owner=me", headers=key_for(service, Role.SALESPERSON, None)
    )
    assert nobody.status_code == 403 and nobody.json()["errors"][0]["field"] == "owner"
    wrong = client.get("/api/activities?owner=me&sort=due&cursor=aWQ6Mw", headers=ana)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "cursor"


def test_an_appointment_has_a_start_an_end_after_it_and_attendees(client: Client) -> None:
    seller(client, "ana")
    lead = create(client)
    attendees = ["Ann@Example.com", "ana"]
    made = make(client, lead, due_in="1d", attendees=attendees)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (parse(body["starts_at"]), parse(body["ends_at"])) == (
        dt.datetime(2026, 12, 24, 10, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 24, 11, tzinfo=dt.UTC),
    )
    assert body["attendees"] == ["ann@example.com", "ana"]
    refused = {
        "ends_at": {"ends_at": "2026-12-24T09:00:00Z"},
        "starts_at": {"starts_at": None},
        "attendees.1": {"attendees": ["ann@example.com", "sam"]},
        "attendees": {"attendees": [f"p{i}@example.com" for i in range(51)]},
    }
    for field, fields in refused.items():
        answer = make(client, lead, due_in="1d", **fields)
        assert answer.status_code in (400, 422), answer.text
        assert field in {e["field"] for e in answer.json()["errors"]}, answer.text
    task = make(client, lead, kind="task", due_in="1d", starts_at="2026-12-24T10:00:00Z")
    assert task.status_code == 422
    assert task.json()["errors"] == [{"field": "starts_at", "reason": "only an appointment has it"}]
    assert [a["id"] for a in of_lead(client, lead["id"])] == [body["id"]]


CALLED = {"type": "behaviour", "name": "reached", "kind": "phone_call", "points": 30}


def test_a_logged_call_outcome_is_an_interaction_scoring_reads(client: Client) -> None:
    live(client, {"rules": [{**CALLED, "properties": {"outcome": "reached"}}]})
    lead = create(client)
    call = make(client, lead, kind="phone_call", due_in="1h").json()
    task = make(client, lead, kind="task", due_in="1h").json()
    refused = client.post(
        f"/api/activities/{task['id']}/complete",
        json={"call_outcome": "reached"},
        headers={"If-Match": '"1"'},
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "call_outcome"
    unknown = client.post(
        f"/api/activities/{call['id']}/complete",
        json={"call_outcome": "busy"},
        headers={"If-Match": '"1"'},
    )
    assert unknown.status_code in (400, 422) and "call_outcome" in unknown.text
    missed = client.post(
        f"/api/activities/{call['id']}/complete",
        json={"call_outcome": "no_answer", "note": "rang ten times"},
        headers={"If-Match": '"1"'},
    )
    assert missed.status_code == 200, missed.text
    assert (missed.json()["call_outcome"], missed.json()["outcome"]) == (
        "no_answer",
        "rang ten times",
    )
    assert score(client, lead["id"]) == 0
    logged = client.post(f"/api/leads/{lead['id']}/calls", json={"outcome": "reached"})
    assert logged.status_code == 201, logged.text
    assert (logged.json()["kind"], logged.json()["status"]) == ("phone_call", "completed")
    assert score(client, lead["id"]) == 30
    found = client.get(f"/api/interactions?lead_id={lead['id']}").json()["items"]
    assert [(i["kind"], i["properties"]["outcome"]) for i in found] == [
        ("phone_call", "no_answer"),
        ("phone_call", "reached"),
    ]
    bad = client.post(f"/api/leads/{lead['id']}/calls", json={"outcome": "maybe"})
    assert bad.status_code in (400, 422) and "outcome" in bad.text
    assert client.post("/api/leads/999/calls", json={"outcome": "reached"}).status_code == 404
