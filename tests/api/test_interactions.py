"""Interactions over HTTP: batches stored whole or not at all, stored once per external id or
Idempotency-Key, also when the same request arrives many times at once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlmodel import func, select

from api.app import Service, create_app, open_service
from api.services import keys
from api.services.keys import Role
from api.settings import Settings
from leads.models import Interaction
from tests.conftest import KeyMaker
from tests.patience import HTTP_SECONDS
from tests.server import serving

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]

WHEN = "2026-01-15T10:00:00+00:00"
URL = "/api/interactions"
STORM = 20


@pytest.fixture
def marketer(app_client: Client, auth: KeyMaker) -> Client:
    """A client that calls as a marketer, a role that may record interactions."""
    app_client.headers.update(auth(Role.MARKETER))
    return app_client


@pytest.fixture
def webinar_client(database_url: str, stages_file: Path) -> Iterator[Client]:
    """A marketer's client on a service that declares the custom kind webinar_attended."""
    settings = Settings(
        database_url=database_url,
        stages_file=stages_file,
        interaction_kinds="webinar_attended, demo_requested",
    )
    service = open_service(settings)
    try:
        with service.db.write() as session:
            _, secret = keys.create_key(session, Role.MARKETER, "webinar marketer")
        with TestClient(create_app(service)) as client:
            client.headers["Authorization"] = f"Bearer {secret}"
            yield client
    finally:
        service.db.dispose()


def item(**fields: Any) -> Json:
    return {"kind": "page_visit", "occurred_at": WHEN, **fields}


def send(client: Client, *items: Json, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(URL, json={"interactions": list(items)}, headers=headers)


def accepted(response: Any) -> list[tuple[int, int, bool]]:
    assert response.status_code == 201, response.text
    return [(a["index"], a["id"], a["duplicate"]) for a in response.json()["accepted"]]


def problems(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [(e["field"], e["reason"]) for e in response.json()["errors"]]


def listed(client: Client, query: str = "") -> list[Json]:
    response = client.get(f"{URL}?limit=200&{query}")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def stored(service: Service) -> int:
    with service.db.read() as session:
        return session.exec(select(func.count()).select_from(Interaction)).one()


def create(client: Client, path: str, **fields: Any) -> Json:
    response = client.post(path, json=fields)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# -- storing and listing ----------------------------------------------------------------------


def test_a_batch_is_stored_in_order_and_read_back(marketer: Client) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    lead = create(marketer, "/api/leads", topic="x", parent_contact_id=ana["id"])
    response = send(
        marketer,
        item(contact_id=ana["id"], target="/pricing", properties={"seconds": 42}),
        item(kind="email_open", contact_id=ana["id"], lead_id=lead["id"], target="nl-2026-01"),
        item(kind="form_submit", lead_id=lead["id"], external_id="form-1"),
    )
    assert [(i, dup) for i, _, dup in accepted(response)] == [(0, False), (1, False), (2, False)]
    ids = [id_ for _, id_, _ in accepted(response)]
    items = listed(marketer)
    assert [i["id"] for i in items] == ids
    first = items[0]
    assert (first["kind"], first["target"], first["properties"]) == (
        "page_visit",
        "/pricing",
        {"seconds": 42},
    )
    assert dt.datetime.fromisoformat(first["occurred_at"]) == dt.datetime.fromisoformat(WHEN)
    assert items[2]["external_id"] == "form-1"


def test_interactions_are_filtered_by_contact_lead_and_kind(marketer: Client) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    bo = create(marketer, "/api/contacts", email="bo@example.com")
    ana_lead = create(marketer, "/api/leads", topic="x", parent_contact_id=ana["id"])
    ids = [
        id_
        for _, id_, _ in accepted(
            send(
                marketer,
                item(contact_id=ana["id"]),
                item(kind="email_open", contact_id=bo["id"]),
                item(kind="email_open", lead_id=ana_lead["id"]),
                item(contact_id=bo["id"]),
            )
        )
    ]

    def found(query: str) -> list[int]:
        return [i["id"] for i in listed(marketer, query)]

    assert found(f"contact_id={ana['id']}") == [ids[0], ids[2]]
    assert found(f"contact_id={bo['id']}") == [ids[1], ids[3]]
    assert found(f"lead_id={ana_lead['id']}") == [ids[2]]
    assert found("kind=email_open") == [ids[1], ids[2]]
    assert found(f"kind=page_visit&contact_id={bo['id']}") == [ids[3]]
    assert found("kind=webinar_attended") == []
    page = marketer.get(f"{URL}?limit=3").json()
    assert [i["id"] for i in page["items"]] == ids[:3]
    rest = marketer.get(f"{URL}?limit=3&cursor={page['next_cursor']}").json()
    assert [i["id"] for i in rest["items"]] == ids[3:] and rest["next_cursor"] is None
    assert marketer.get(f"{URL}?limit=201").status_code == 422


def test_a_lead_only_interaction_is_credited_to_the_leads_contact_too(marketer: Client) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    lead = create(marketer, "/api/leads", topic="x", parent_contact_id=ana["id"])
    orphan = create(marketer, "/api/leads", topic="no contact")
    accepted(send(marketer, item(lead_id=lead["id"]), item(lead_id=orphan["id"])))
    credited, uncredited = listed(marketer)
    assert (credited["lead_id"], credited["contact_id"]) == (lead["id"], ana["id"])
    assert (uncredited["lead_id"], uncredited["contact_id"]) == (orphan["id"], None)
    assert [i["id"] for i in listed(marketer, f"contact_id={ana['id']}")] == [credited["id"]]


# -- what is refused --------------------------------------------------------------------------


def test_a_bad_batch_names_each_bad_item_and_stores_nothing(marketer: Client) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    bo = create(marketer, "/api/contacts", email="bo@example.com")
    bos_lead = create(marketer, "/api/leads", topic="x", parent_contact_id=bo["id"])
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    response = send(
        marketer,
        item(contact_id=ana["id"], external_id="fine-1"),
        item(kind="webinar_attended", contact_id=ana["id"]),
        item(contact_id=999),
        item(lead_id=888),
        item(),
        item(contact_id=ana["id"], lead_id=bos_lead["id"]),
        item(contact_id=ana["id"], occurred_at=future),
        item(contact_id=ana["id"], external_id="fine-2"),
    )
    errors = problems(response)
    assert [field for field, _ in errors] == [
        "interactions.1.kind",
        "interactions.2.contact_id",
        "interactions.3.lead_id",
        "interactions.4.contact_id",
        "interactions.5.lead_id",
        "interactions.6.occurred_at",
    ]
    reasons = dict(errors)
    assert reasons["interactions.1.kind"].startswith("unknown kind 'webinar_attended'; known: ")
    assert "page_visit" in reasons["interactions.1.kind"]
    assert reasons["interactions.2.contact_id"] == "there is no contact 999"
    assert reasons["interactions.3.lead_id"] == "there is no lead 888"
    assert reasons["interactions.4.contact_id"] == (
        "an interaction belongs to a contact, a lead, or both"
    )
    assert (
        reasons["interactions.5.lead_id"] == f"lead {bos_lead['id']} belongs to contact {bo['id']}"
    )
    assert reasons["interactions.6.occurred_at"] == "is in the future"
    assert listed(marketer) == []
    # Nothing of the refused batch was kept: its external ids are free.
    assert accepted(send(marketer, item(contact_id=ana["id"], external_id="fine-1")))[0][2] is False


def test_a_sender_clock_a_few_minutes_fast_is_believed(marketer: Client) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    accepted(send(marketer, item(contact_id=ana["id"], occurred_at=soon.isoformat())))
    [stored_item] = listed(marketer)
    assert dt.datetime.fromisoformat(stored_item["occurred_at"]) == soon


def test_a_time_without_timezone_is_refused_naming_the_item(
    marketer: Client, service: Service
) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    response = send(
        marketer,
        item(contact_id=ana["id"]),
        item(contact_id=ana["id"], occurred_at="2026-01-15T10:00:00"),
    )
    assert problems(response) == [
        (
            "interactions.1.occurred_at",
            "not a date-time with a timezone (RFC 3339), e.g. 2026-12-01T09:00:00Z",
        )
    ]
    response = send(marketer, item(contact_id=ana["id"], kind="Page Visit", color="red"))
    assert {field for field, _ in problems(response)} == {
        "interactions.0.kind",
        "interactions.0.color",
    }
    assert stored(service) == 0


def test_a_batch_holds_one_to_a_thousand_interactions(marketer: Client, service: Service) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    assert problems(send(marketer))[0][0] == "interactions"
    too_many = [item(contact_id=ana["id"]) for _ in range(1001)]
    assert problems(send(marketer, *too_many))[0][0] == "interactions"
    assert stored(service) == 0
    answer = accepted(send(marketer, *too_many[:1000]))
    assert [index for index, _, _ in answer] == list(range(1000))
    assert len({id_ for _, id_, _ in answer}) == 1000
    assert stored(service) == 1000


def test_one_bad_item_in_a_thousand_stores_none(marketer: Client, service: Service) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    batch = [item(contact_id=ana["id"], external_id=f"e{i}") for i in range(1000)]
    batch[999] = item(contact_id=ana["id"] + 1)
    assert problems(send(marketer, *batch)) == [
        ("interactions.999.contact_id", f"there is no contact {ana['id'] + 1}")
    ]
    assert stored(service) == 0


def test_custom_kinds_are_accepted_once_declared(webinar_client: Client) -> None:
    ana = create(webinar_client, "/api/contacts", email="ana@example.com")
    response = send(
        webinar_client,
        item(kind="webinar_attended", contact_id=ana["id"], target="webinar-2026"),
        item(kind="demo_requested", contact_id=ana["id"]),
        item(kind="email_click", contact_id=ana["id"]),
    )
    assert len(accepted(response)) == 3
    assert [i["kind"] for i in listed(webinar_client, "kind=webinar_attended")] == [
        "webinar_attended"
    ]
    [(field, reason)] = problems(send(webinar_client, item(kind="podcast", contact_id=ana["id"])))
    assert field == "interactions.0.kind"
    assert "demo_requested" in reason and "webinar_attended" in reason


def test_only_marketers_services_and_admins_may_record_but_everyone_may_read(
    app_client: Client, auth: KeyMaker
) -> None:
    app_client.headers.update(auth(Role.ADMIN))
    ana = create(app_client, "/api/contacts", email="ana@example.com")
    for role in Role:
        headers = auth(role)
        response = app_client.post(
            URL, json={"interactions": [item(contact_id=ana["id"])]}, headers=headers
        )
        may = role in (Role.MARKETER, Role.SERVICE, Role.ADMIN)
        assert response.status_code == (201 if may else 403), role
        assert app_client.get(URL, headers=headers).status_code == 200
    assert len(listed(app_client)) == 3


# -- stored once: external ids ----------------------------------------------------------------


def test_an_external_id_is_stored_once_and_repeats_name_the_first(
    marketer: Client, service: Service
) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    [(_, first_id, duplicate)] = accepted(
        send(marketer, item(contact_id=ana["id"], external_id="a"))
    )
    assert duplicate is False
    answer = accepted(
        send(
            marketer,
            item(contact_id=ana["id"], external_id="b"),
            item(contact_id=ana["id"], external_id="a", kind="email_open"),
            item(contact_id=ana["id"], external_id="b"),
            item(contact_id=ana["id"]),
        )
    )
    b_id = answer[0][1]
    assert answer == [
        (0, b_id, False),
        (1, first_id, True),
        (2, b_id, True),
        (3, answer[3][1], False),
    ]
    assert len({first_id, b_id, answer[3][1]}) == 3
    assert stored(service) == 3
    assert [i["kind"] for i in listed(marketer) if i["external_id"] == "a"] == ["page_visit"]


# -- stored once: Idempotency-Key ------------------------------------------------------------


def test_a_replayed_key_gets_the_first_answer_and_stores_nothing_twice(
    marketer: Client, service: Service
) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    batch = [item(contact_id=ana["id"]), item(kind="email_open", contact_id=ana["id"])]
    first = send(marketer, *batch, key="import-42")
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    replay = send(marketer, *batch, key="import-42")
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert stored(service) == 2


def test_a_key_reused_with_another_body_is_refused_and_stores_nothing(
    marketer: Client, service: Service
) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    assert send(marketer, item(contact_id=ana["id"]), key="k").status_code == 201
    response = send(marketer, item(contact_id=ana["id"], target="/other"), key="k")
    assert problems(response) == [("Idempotency-Key", "already used with another body")]
    assert stored(service) == 1


def test_keys_belong_to_the_api_key_that_sent_them(
    app_client: Client, auth: KeyMaker, service: Service
) -> None:
    first, second = auth(Role.MARKETER), auth(Role.SERVICE)
    app_client.headers.update(first)
    ana = create(app_client, "/api/contacts", email="ana@example.com")
    body = {"interactions": [item(contact_id=ana["id"])]}
    mine = app_client.post(URL, json=body, headers={**first, "Idempotency-Key": "k"})
    theirs = app_client.post(URL, json=body, headers={**second, "Idempotency-Key": "k"})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json() != mine.json()
    assert stored(service) == 2


def test_a_refused_request_keeps_no_answer_so_its_key_can_be_retried_fixed(
    marketer: Client, service: Service
) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    wrong = send(marketer, item(contact_id=ana["id"] + 1), key="retry-me")
    assert problems(wrong) == [
        ("interactions.0.contact_id", f"there is no contact {ana['id'] + 1}")
    ]
    fixed = send(marketer, item(contact_id=ana["id"]), key="retry-me")
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers
    assert stored(service) == 1
    again = send(marketer, item(contact_id=ana["id"]), key="retry-me")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == fixed.json()
    # The key now belongs to the request that succeeded; the wrong one stays wrong.
    assert send(marketer, item(contact_id=ana["id"] + 1), key="retry-me").status_code == 422
    assert stored(service) == 1


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_an_idempotency_key_has_1_to_200_characters(marketer: Client, key: str) -> None:
    ana = create(marketer, "/api/contacts", email="ana@example.com")
    response = send(marketer, item(contact_id=ana["id"]), key=key)
    assert problems(response) == [("Idempotency-Key", "must be 1 to 200 characters")]
    assert listed(marketer) == []


# -- the same request many times at once ------------------------------------------------------


def storm(base: str, headers: dict[str, str], body: Json) -> list[httpx.Response]:
    """Send the same request from STORM clients at the same instant."""
    barrier = threading.Barrier(STORM)

    def attempt(_: int) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=HTTP_SECONDS) as client:
            barrier.wait()
            return client.post(URL, json=body)

    with ThreadPoolExecutor(STORM) as pool:
        return list(pool.map(attempt, range(STORM)))


def test_a_key_sent_twenty_times_at_once_stores_once_and_answers_alike(
    service: Service, auth: KeyMaker
) -> None:
    headers = auth(Role.SERVICE)
    with serving(create_app(service)) as base:
        ana = httpx.post(
            f"{base}/api/contacts",
            json={"email": "a@example.com"},
            headers=headers,
            timeout=HTTP_SECONDS,
        )
        body = {"interactions": [item(contact_id=ana.json()["id"], target="/storm")]}
        answers = storm(base, {**headers, "Idempotency-Key": "storm-1"}, body)
    assert [a.status_code for a in answers] == [201] * STORM, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    replayed = [a.headers.get("idempotent-replayed") for a in answers]
    assert replayed.count("true") == STORM - 1 and replayed.count(None) == 1
    assert stored(service) == 1


def test_an_external_id_sent_twenty_times_at_once_is_stored_once(
    service: Service, auth: KeyMaker
) -> None:
    headers = auth(Role.SERVICE)
    with serving(create_app(service)) as base:
        ana = httpx.post(
            f"{base}/api/contacts",
            json={"email": "a@example.com"},
            headers=headers,
            timeout=HTTP_SECONDS,
        )
        body = {"interactions": [item(contact_id=ana.json()["id"], external_id="ext-storm")]}
        answers = storm(base, headers, body)
    assert [a.status_code for a in answers] == [201] * STORM, [a.text for a in answers]
    named = [(a.json()["accepted"][0]["id"]) for a in answers]
    assert len(set(named)) == 1
    duplicates = [a.json()["accepted"][0]["duplicate"] for a in answers]
    assert duplicates.count(False) == 1
    assert stored(service) == 1
