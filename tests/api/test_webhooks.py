"""Webhooks through the API: subscriptions, signed deliveries of the events changes announce,
retries with backoff, the delivery log, and erasure reaching undelivered messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select
from standardwebhooks.webhooks import Webhook

from api.app import Service, create_app, open_service
from api.services.keys import Role
from api.settings import Settings
from api.storage.webhook_tables import WebhookDelivery, WebhookEvent
from tests.api.closing import ready_to_qualify
from tests.api.test_assignment import ready_lead, rule, seller
from tests.api.test_qualification import ENGAGEMENT, opens, person_lead, published
from tests.api.test_scoring import live
from tests.conftest import KeyMaker
from tests.jobs.helpers import run_job
from tests.patience import SETTLE_SECONDS
from tests.receiver import ALLOWED_TARGETS, Receiver, free_port, receiving

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]


@pytest.fixture
def settings(database_url: str, stages_file: Path) -> Settings:
    return Settings(
        database_url=database_url,
        stages_file=stages_file,
        webhook_poll_seconds=0.02,
        webhook_backoff_seconds=0.05,
        webhook_backoff_max_seconds=0.2,
        webhook_max_attempts=4,
        webhook_timeout_seconds=2,
        periodic_jobs=False,
        webhook_allowed_targets=ALLOWED_TARGETS,
    )


@pytest.fixture
def admin(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.ADMIN))
    return app_client


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    found = Receiver()
    with receiving(found) as url:
        yield found, url


def subscribe(client: Client, url: str, *types: str, **more: Any) -> Json:
    response = client.post("/api/webhooks", json={"url": url, "event_types": list(types), **more})
    assert response.status_code == 201, response.text
    found: Json = response.json()
    return found


def deliveries(client: Client, webhook: Json) -> list[Json]:
    response = client.get(f"/api/webhooks/{webhook['id']}/deliveries?limit=200")
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


def settled(
    client: Client, webhook: Json, count: int, seconds: float = SETTLE_SECONDS
) -> list[Json]:
    """The deliveries once `count` of them are no longer pending."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        items = deliveries(client, webhook)
        if len([d for d in items if d["status"] != "pending"]) >= count:
            return items
        time.sleep(0.02)
    raise AssertionError(f"deliveries did not settle: {deliveries(client, webhook)}")


def lead(client: Client, **fields: Any) -> Json:
    response = client.post("/api/leads", json={"topic": "t", **fields})
    assert response.status_code == 201, response.text
    found: Json = response.json()
    return found


# -- subscriptions ----------------------------------------------------------------------------


def test_a_subscription_shows_its_generated_secret_once(admin: Client) -> None:
    created = subscribe(admin, "https://hooks.example.com/leadflow", "lead.created")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    read = admin.get(f"/api/webhooks/{created['id']}")
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert read.headers["ETag"] == '"1"'
    assert [w["id"] for w in admin.get("/api/webhooks").json()] == [created["id"]]


def test_only_admins_manage_webhooks(app_client: Client, auth: KeyMaker) -> None:
    app_client.headers.update(auth(Role.MARKETER))
    response = app_client.post(
        "/api/webhooks", json={"url": "https://x.example.com", "event_types": ["lead.created"]}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {"event_types": ["lead.created", "lead.stage_change"]},
            "event_types",
            "lead.stage_change",
        ),
        ({"event_types": []}, "event_types", "at least 1"),
        ({"url": "ftp://example.com/x"}, "url", "http:// or https://"),
        ({"url": "https:///nohost"}, "url", "names no host"),
        ({"url": "https://u:p@example.com/"}, "url", "credentials"),
        ({"url": "http://example.com:99999/"}, "url", "not a URL"),
        ({"secret": "whsec_" + base64.b64encode(b"x" * 16).decode()}, "secret", "16 bytes"),
        ({"secret": "plain-text-secret-of-enough-length"}, "secret", "whsec_"),
        ({"secret": "whsec_not*base64"}, "secret", "not base64"),
        ({"colour": "red"}, "colour", ""),
    ],
)
def test_bad_subscriptions_get_422_naming_the_field_and_store_nothing(
    admin: Client, body: Json, field: str, reason: str
) -> None:
    good = {"url": "https://hooks.example.com/x", "event_types": ["lead.created"]}
    response = admin.post("/api/webhooks", json={**good, **body})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == field and reason in e["reason"] for e in problem["errors"]), problem
    assert admin.get("/api/webhooks").json() == []


def test_a_secret_given_by_the_admin_is_used(admin: Client) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    created = subscribe(admin, "https://hooks.example.com/x", "lead.created", secret=secret)
    assert created["secret"] == secret


def test_updates_need_the_current_etag(admin: Client) -> None:
    created = subscribe(admin, "https://hooks.example.com/x", "lead.created")
    url = f"/api/webhooks/{created['id']}"
    change = {"event_types": ["lead.created", "lead.sales_ready"], "description": "CRM"}
    assert admin.patch(url, json=change).status_code == 428
    assert admin.patch(url, json=change, headers={"If-Match": '"7"'}).status_code == 412
    response = admin.patch(url, json=change, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.json()["event_types"] == ["lead.created", "lead.sales_ready"]
    assert response.headers["ETag"] == '"2"'
    bad = admin.patch(url, json={"event_types": ["nope"]}, headers={"If-Match": '"2"'})
    assert bad.status_code == 422
    assert admin.patch(url, json={"url": None}, headers={"If-Match": '"2"'}).status_code == 422
    assert admin.get(url).json()["version"] == 2
    assert admin.delete(url, headers={"If-Match": '"2"'}).status_code == 204
    assert admin.get(url).status_code == 404


# -- deliveries -------------------------------------------------------------------------------


def test_a_move_is_delivered_signed_as_standard_webhooks_prescribes(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    hook = subscribe(admin, url, "lead.created", "lead.stage_changed")
    x = lead(admin, email="ana@example.com")
    moved = admin.post(
        f"/api/leads/{x['id']}/stage",
        json={"to": "teleprospecting_qualification", "reason": "called"},
        headers={"If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    inbox.wait_for(lambda got: len(got) == 2)
    created, change = sorted(inbox.received, key=lambda r: r.message["type"])
    assert created.message["type"] == "lead.created"
    assert created.message["data"]["lead_id"] == x["id"]
    assert created.message["data"]["email"] == "ana@example.com"
    assert change.message["type"] == "lead.stage_changed"
    assert change.message["data"] == {
        "lead_id": x["id"],
        "process": "lead_to_opportunity",
        "from_process": None,
        "from": "inquiry",
        "to": "teleprospecting_qualification",
        "trigger": None,
        "actor": {"kind": "user", "name": "admin tester"},
        "reason": "called",
        "at": change.message["data"]["at"],
    }
    for message in inbox.received:
        assert message.id.startswith("msg_")
        # The reference implementation accepts the signature...
        assert Webhook(hook["secret"]).verify(message.body, message.headers) == message.message
        # ... and so does the computation the specification describes.
        key = base64.b64decode(hook["secret"].removeprefix("whsec_"))
        signed = f"{message.id}.{message.headers['webhook-timestamp']}.{message.body}"
        digest = hmac.new(key, signed.encode(), hashlib.sha256).digest()
        assert message.headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
        assert abs(int(message.headers["webhook-timestamp"]) - time.time()) < 60
    log = settled(admin, hook, 2)
    assert {d["webhook_id"] for d in log} == {m.id for m in inbox.received}
    assert all(d["status"] == "delivered" for d in log)


def test_a_receiver_failing_three_times_gets_the_event_a_fourth_time(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    inbox.statuses = [500, 500, 500]
    hook = subscribe(admin, url, "lead.created")
    lead(admin)
    [delivery] = settled(admin, hook, 1)
    assert inbox.ids() == [delivery["webhook_id"]] * 4
    assert delivery["status"] == "delivered"
    assert delivery["attempt_count"] == 4
    attempts = delivery["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3, 4]
    assert [a["status_code"] for a in attempts] == [500, 500, 500, 200]
    assert all(a["next_retry_at"] is not None for a in attempts[:3])
    assert attempts[3]["next_retry_at"] is None
    assert all(a["duration_ms"] >= 0 for a in attempts)
    for before, after in itertools.pairwise(attempts):
        assert after["at"] >= before["next_retry_at"]


def test_a_delivery_that_never_succeeds_fails_visibly_and_an_admin_can_retry_it(
    admin: Client,
) -> None:
    inbox = Receiver()
    port = free_port()
    hook = subscribe(admin, f"http://127.0.0.1:{port}/hooks", "lead.created")
    lead(admin)
    [failed] = settled(admin, hook, 1)
    assert failed["status"] == "failed"
    assert len(failed["attempts"]) == 4
    assert all(a["status_code"] is None and "Connect" in a["error"] for a in failed["attempts"])
    assert failed["attempts"][-1]["next_retry_at"] is None
    url = f"/api/webhooks/{hook['id']}/deliveries"
    assert admin.get(f"{url}?status=failed").json()["items"][0]["id"] == failed["id"]
    assert admin.get(f"{url}?status=pending").json()["items"] == []
    with receiving(inbox, port):
        retried = admin.post(f"{url}/{failed['id']}/retry")
        assert retried.status_code == 202, retried.text
        assert retried.json()["status"] == "pending"
        inbox.wait_for(lambda got: len(got) == 1)
        [done] = settled(admin, hook, 1)
    assert inbox.ids() == [failed["webhook_id"]]
    assert done["status"] == "delivered"
    assert [a["number"] for a in done["attempts"]] == [1, 2, 3, 4, 5]
    again = admin.post(f"{url}/{failed['id']}/retry")
    assert again.status_code == 202
    assert admin.post(f"{url}/9999/retry").status_code == 404


def test_a_disabled_subscription_receives_nothing_until_enabled(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    hook = subscribe(admin, url, "lead.created", enabled=False)
    lead(admin)
    time.sleep(0.3)
    assert inbox.received == []
    assert deliveries(admin, hook) == []
    enabled = admin.patch(
        f"/api/webhooks/{hook['id']}", json={"enabled": True}, headers={"If-Match": '"1"'}
    )
    assert enabled.status_code == 200
    later = lead(admin)
    inbox.wait_for(lambda got: len(got) == 1)
    assert inbox.received[0].message["data"]["lead_id"] == later["id"]


def test_only_the_types_subscribed_are_sent_and_nothing_is_stored_without_subscribers(
    admin: Client, receiver: tuple[Receiver, str], service: Service
) -> None:
    inbox, url = receiver
    lead(admin)
    with service.db.read() as session:
        assert session.exec(select(WebhookEvent)).all() == []
    hook = subscribe(admin, url, "lead.updated")
    x = lead(admin)
    admin.post("/api/sellers", json={"handle": "bo", "name": "Bo"})  # an owner is a seller
    changed = admin.patch(
        f"/api/leads/{x['id']}", json={"owner": "bo"}, headers={"If-Match": '"1"'}
    )
    assert changed.status_code == 200
    [delivery] = settled(admin, hook, 1)
    [message] = inbox.received
    assert message.message["type"] == "lead.updated"
    assert message.message["data"]["changes"] == {"owner": {"from": None, "to": "bo"}}
    assert delivery["event_type"] == "lead.updated"


def test_a_person_marking_a_lead_sales_ready_is_announced(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    subscribe(admin, url, "lead.sales_ready", "lead.stage_changed")
    x = lead(admin)
    marked = admin.patch(
        f"/api/leads/{x['id']}", json={"sales_ready": True}, headers={"If-Match": '"1"'}
    )
    assert marked.status_code == 200
    inbox.wait_for(lambda got: len(got) == 2)
    by_type = {r.message["type"]: r.message["data"] for r in inbox.received}
    assert by_type["lead.sales_ready"]["actor"] == {"kind": "user", "name": "admin tester"}
    assert by_type["lead.stage_changed"]["to"] == marked.json()["stage"]


def test_scoring_announces_the_first_score_and_sales_ready_with_the_model(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    rules = [{"type": "behaviour", "name": "opens", "kind": "email_open", "points": 5}]
    model = admin.post(
        "/api/scoring-models",
        json={"name": "engagement", "definition": {"rules": rules, "sales_ready_score": 10}},
    ).json()
    started = admin.post(
        f"/api/scoring-models/{model['id']}/go-live", headers={"If-Match": f'"{model["version"]}"'}
    )
    assert started.status_code == 202
    subscribe(admin, url, "lead.scored", "lead.sales_ready")
    person = admin.post("/api/contacts", json={"email": "s@x.io"}).json()
    x = lead(admin, parent_contact_id=person["id"])
    opens = {
        "kind": "email_open",
        "occurred_at": "2026-01-01T00:00:00Z",
        "contact_id": person["id"],
    }
    for _ in range(2):
        assert admin.post("/api/interactions", json={"interactions": [opens]}).status_code == 201
    inbox.wait_for(lambda got: len(got) == 2)
    by_type = {r.message["type"]: r.message["data"] for r in inbox.received}
    assert by_type["lead.scored"]["lead_id"] == x["id"]
    assert by_type["lead.scored"]["scores"][0]["model_id"] == model["id"]
    assert by_type["lead.sales_ready"] == {
        "lead_id": x["id"],
        "actor": {"kind": "scoring", "name": None},
        "model_ids": [model["id"]],
    }


def test_an_import_announces_each_lead_it_creates(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    hook = subscribe(admin, url, "lead.created")
    csv = "topic,email\nfirst,a@example.com\nsecond,b@example.com\n"
    response = admin.post("/api/imports/leads", content=csv, headers={"content-type": "text/csv"})
    assert response.status_code in (200, 201), response.text
    settled(admin, hook, 2)
    emails = sorted(r.message["data"]["email"] for r in inbox.received)
    assert emails == ["a@example.com", "b@example.com"]


def test_after_a_rotation_both_secrets_sign_for_a_while(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    hook = subscribe(admin, url, "lead.created")
    path = f"/api/webhooks/{hook['id']}/rotate-secret"
    assert admin.post(path, json={}).status_code == 428
    rotated = admin.post(path, json={}, headers={"If-Match": '"1"'})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != hook["secret"] and rotated.json()["previous_secret_until"] is not None
    lead(admin)
    inbox.wait_for(lambda got: len(got) == 1)
    [message] = inbox.received
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    for secret in (new, hook["secret"]):
        Webhook(secret).verify(message.body, message.headers)


# -- erasure ----------------------------------------------------------------------------------


def test_erasing_a_contact_removes_them_from_undelivered_messages(
    app_client: Client, auth: KeyMaker, service: Service
) -> None:
    app_client.headers.update(auth(Role.ADMIN))
    down = f"http://127.0.0.1:{free_port()}/hooks"
    subscribe(app_client, down, "lead.created", "lead.updated", "contact.erased")
    ana = app_client.post("/api/contacts", json={"email": "ana@example.com"}).json()
    x = lead(app_client, email="ana@example.com", parent_contact_id=ana["id"], topic="Ana's deal")
    app_client.post("/api/sellers", json={"handle": "bo", "name": "Bo"})
    app_client.patch(f"/api/leads/{x['id']}", json={"owner": "bo"}, headers={"If-Match": '"1"'})
    other = lead(app_client, email="cy@example.com")
    erased = app_client.post(f"/api/contacts/{ana['id']}/erasure")
    assert erased.status_code == 200, erased.text
    with service.db.read() as session:
        events = {e.id: e for e in session.exec(select(WebhookEvent))}
        states = {
            d.event_id: d.status
            for d in session.exec(select(WebhookDelivery).where(col(WebhookDelivery.id) > 0))
        }
    bodies = " ".join(e.body for e in events.values())
    assert "ana@example.com" not in bodies and "Ana's deal" not in bodies
    assert "cy@example.com" in bodies
    about_ana = [e for e in events.values() if e.lead_id == x["id"]]
    assert len(about_ana) == 2
    assert {states[e.id] for e in about_ana} == {"cancelled"}
    [notice] = [e for e in events.values() if e.type == "contact.erased"]
    assert states[notice.id] in ("pending", "failed")
    assert f'"lead_ids":[{x["id"]}]' in notice.body
    kept = next(e.id for e in events.values() if e.lead_id == other["id"])
    assert states[kept] in ("pending", "failed")


def test_deleting_a_subscription_removes_its_deliveries_and_the_events_no_other_awaits(
    admin: Client, service: Service
) -> None:
    down = f"http://127.0.0.1:{free_port()}/hooks"
    gone = subscribe(admin, down, "lead.created", "lead.updated")
    kept = subscribe(admin, down, "lead.created")
    x = lead(admin)
    admin.post("/api/sellers", json={"handle": "bo", "name": "Bo"})
    admin.patch(f"/api/leads/{x['id']}", json={"owner": "bo"}, headers={"If-Match": '"1"'})
    assert (
        admin.delete(f"/api/webhooks/{gone['id']}", headers={"If-Match": '"1"'}).status_code == 204
    )
    with service.db.read() as session:
        types = sorted(e.type for e in session.exec(select(WebhookEvent)))
        owners = {d.subscription_id for d in session.exec(select(WebhookDelivery))}
    assert types == ["lead.created"]
    assert owners == {kept["id"]}


def test_qualification_and_disposition_are_announced(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    live(admin, ENGAGEMENT, "engagement")
    qualification = published(
        admin,
        {"model": "engagement", "score_at_least": 20},
        actions={"marketing_qualified": True, "sales_ready": True},
    )
    subscribe(
        admin,
        url,
        "lead.marketing_qualified",
        "lead.sales_ready",
        "lead.qualified",
        "lead.disqualified",
        "lead.reopened",
    )
    person, hot = person_lead(admin)
    opens(admin, person, 2)
    inbox.wait_for(lambda got: len(got) == 2)
    by_type = {r.message["type"]: r.message["data"] for r in inbox.received}
    by_qualification = {"kind": "qualification", "name": None}
    assert by_type["lead.marketing_qualified"]["lead_id"] == hot["id"]
    assert by_type["lead.marketing_qualified"]["actor"] == by_qualification
    assert by_type["lead.sales_ready"]["actor"] == by_qualification
    assert qualification["status"] == "published"

    now = ready_to_qualify(admin, hot["id"])
    won = admin.post(
        f"/api/leads/{hot['id']}/qualify",
        json={"estimated_value": 5000, "currency": "EUR"},
        headers={"If-Match": f'"{now["version"]}"'},
    )
    assert won.status_code == 201, won.text
    _, cold = person_lead(admin)
    lost = admin.post(
        f"/api/leads/{cold['id']}/disqualify",
        json={"reason": "no_longer_interested"},
        headers={"If-Match": f'"{cold["version"]}"'},
    )
    assert lost.status_code == 200, lost.text
    back = admin.post(
        f"/api/leads/{cold['id']}/reopen", json={}, headers={"If-Match": f'"{cold["version"] + 1}"'}
    )
    assert back.status_code == 200, back.text
    inbox.wait_for(lambda got: len(got) == 5)
    by_type = {r.message["type"]: r.message["data"] for r in inbox.received}
    assert by_type["lead.qualified"]["lead_id"] == hot["id"]
    assert by_type["lead.qualified"]["opportunity_id"] is not None
    assert by_type["lead.disqualified"]["status_reason"] == "no_longer_interested"
    assert by_type["lead.reopened"] == {
        **by_type["lead.reopened"],
        "lead_id": cold["id"],
        "status": "open",
        "status_reason": "new",
    }


def test_an_assignment_is_announced_with_its_rule_and_reason(
    admin: Client, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    seller(admin, "ana")
    rule(admin, "everyone", sellers=["ana"])
    subscribe(admin, url, "lead.assigned")
    x = ready_lead(admin)
    inbox.wait_for(lambda got: len(got) == 1)
    data = inbox.received[0].message["data"]
    assert (data["lead_id"], data["owner"], data["previous_owner"]) == (x["id"], "ana", None)
    assert (data["rule"], data["strategy"]) == ("everyone", "round_robin")
    assert data["reason"]


def test_the_redelivery_job_delivers_what_no_sender_took(
    database_url: str, stages_file: Path, auth: KeyMaker, receiver: tuple[Receiver, str]
) -> None:
    inbox, url = receiver
    quiet = Settings(
        database_url=database_url,
        stages_file=stages_file,
        webhook_sender=False,
        periodic_jobs=False,
        webhook_allowed_targets=ALLOWED_TARGETS,
    )
    service = open_service(quiet)
    try:
        with TestClient(create_app(service)) as client:
            client.headers.update(auth(Role.ADMIN))
            hook = subscribe(client, url, "lead.created")
            made = lead(client)
            time.sleep(0.3)
            assert inbox.received == []  # no sender in this process
            run = run_job(client, "webhook_redelivery", {})
            assert (run["status"], run["processed"]) == ("done", 1)
            inbox.wait_for(lambda got: len(got) == 1)
            assert inbox.received[0].message["data"]["lead_id"] == made["id"]
            assert [d["status"] for d in deliveries(client, hook)] == ["delivered"]
    finally:
        service.db.dispose()
