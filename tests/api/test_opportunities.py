"""Opportunities that close, over HTTP: edited while open, won, lost and reopened, with their
history, audit and events, seen from their lead; when a lead may be qualified, and the
reasons stages.yaml gives for closing leads and opportunities."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from litestar.testing import TestClient
from sqlmodel import select

import bpf
from api.app import Service
from api.services import keys
from api.services.keys import Role
from api.storage.webhook_tables import WebhookEvent
from bpf.validation import parse
from tests.api.closing import ready_to_qualify
from tests.api.test_disposition import act, create
from tests.api.test_webhooks import subscribe
from tests.conftest import KeyMaker

Client = TestClient  # type: ignore[type-arg]
Json = dict[str, Any]
DEAL = {"estimated_value": "25000.50", "currency": "EUR", "estimated_close_date": "2027-03-31"}


def qualified(client: Client, **fields: Any) -> tuple[Json, Json]:
    """A lead qualified into an opportunity: (the lead, the opportunity)."""
    lead = ready_to_qualify(client, create(client, **fields)["id"])
    answer = act(client, lead, "qualify", DEAL)
    assert answer.status_code == 201, answer.text
    return answer.json()["lead"], answer.json()["opportunity"]


def change(
    client: Client, opportunity: Json, action: str | None, body: Json, version: Any = None
) -> Any:
    """PATCH the opportunity (no action), or POST its action, with If-Match of `version` (the
    opportunity's own unless given; None sends no If-Match when `version` is "none")."""
    path = f"/api/opportunities/{opportunity['id']}" + (f"/{action}" if action else "")
    tag = opportunity["version"] if version is None else version
    headers = {} if tag == "none" else {"If-Match": f'"{tag}"'}
    if action is None:
        return client.patch(path, json=body, headers=headers)
    return client.post(path, json=body, headers=headers)


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def test_an_open_opportunity_is_edited_then_won_and_its_lead_shows_it(client: Client) -> None:
    lead, opportunity = qualified(client)
    assert client.get(f"/api/leads/{lead['id']}").json()["opportunity"] == {
        "id": opportunity["id"],
        "status": "open",
    }
    edited = change(
        client, opportunity, None, {"estimated_value": 30000, "estimated_close_date": None}
    )
    assert edited.status_code == 200, edited.text
    assert edited.headers["etag"] == '"2"'
    opportunity = edited.json()
    assert (opportunity["estimated_value"], opportunity["estimated_close_date"]) == (30000, None)

    won = change(client, opportunity, "win", {"actual_value": "28000.75", "note": "Signed"})
    assert won.status_code == 200, won.text
    opportunity = won.json()
    assert won.headers["etag"] == f'"{opportunity["version"]}"' == '"3"'
    assert (opportunity["status"], opportunity["actual_value"]) == ("won", 28000.75)
    assert (opportunity["closed_on"], opportunity["lost_reason"]) == (today(), None)
    assert client.get(f"/api/opportunities/{opportunity['id']}").json() == opportunity
    read = client.get(f"/api/leads/{lead['id']}").json()
    assert read["opportunity"] == {"id": opportunity["id"], "status": "won"}
    listed = client.get("/api/leads").json()["items"]
    assert [item["opportunity"] for item in listed] == [{"id": opportunity["id"], "status": "won"}]
    assert client.get("/api/opportunities?status=won").json()["items"] == [opportunity]

    [history] = client.get(f"/api/opportunities/{opportunity['id']}/history").json()["items"]
    assert {k: history[k] for k in ("from_status", "status", "reason", "note", "actor_name")} == {
        "from_status": "open",
        "status": "won",
        "reason": None,
        "note": "Signed",
        "actor_name": "admin tester",
    }
    assert (history["actual_value"], history["currency"], history["closed_on"]) == (
        28000.75,
        "EUR",
        today(),
    )
    audit = client.get(f"/api/opportunities/{opportunity['id']}/audit").json()["items"]
    assert {(e["field"], e["old"], e["new"]) for e in audit} == {
        ("estimated_value_cents", 2500050, 3000000),
        ("estimated_close_date", "2027-03-31", None),
        ("status", "open", "won"),
        ("actual_value_cents", None, 2800075),
        ("closed_on", None, today()),
    }


def test_a_lost_opportunity_is_reopened_before_it_is_won(client: Client) -> None:
    _, opportunity = qualified(client)
    lost = change(client, opportunity, "lose", {"reason": "no_budget", "closed_on": "2026-11-30"})
    assert lost.status_code == 200, lost.text
    opportunity = lost.json()
    assert (opportunity["status"], opportunity["lost_reason"]) == ("lost", "no_budget")
    assert opportunity["closed_on"] == "2026-11-30"
    for action, body in (("win", {"actual_value": 1}), ("lose", {"reason": "timing"})):
        refused = change(client, opportunity, action, body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith(":opportunity-not-open")
        assert refused.json()["current_status"] == "lost"
        assert "reopen it first" in refused.json()["detail"]
    refused = change(client, opportunity, None, {"name": "Bigger deal"})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith(":opportunity-not-open")

    assert change(client, opportunity, "reopen", {}).status_code == 422  # it says why
    reopened = change(client, opportunity, "reopen", {"note": "Budget found in Q1"})
    assert reopened.status_code == 200, reopened.text
    opportunity = reopened.json()
    assert (opportunity["status"], opportunity["closed_on"], opportunity["lost_reason"]) == (
        "open",
        None,
        None,
    )
    again = change(client, opportunity, "reopen", {"note": "again"})
    assert again.status_code == 409
    assert again.json()["type"].endswith(":opportunity-not-closed")
    won = change(client, opportunity, "win", {"actual_value": 500})
    assert won.status_code == 200, won.text
    history = client.get(f"/api/opportunities/{opportunity['id']}/history").json()["items"]
    assert [(h["from_status"], h["status"], h["reason"], h["note"]) for h in history] == [
        ("open", "lost", "no_budget", None),
        ("lost", "open", None, "Budget found in Q1"),
        ("open", "won", None, None),
    ]


def test_a_bad_stale_or_unconditional_change_changes_nothing(client: Client) -> None:
    _, opportunity = qualified(client)
    tomorrow_everywhere = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()
    bad = [
        ("lose", {"reason": "bored"}, "reason"),
        ("win", {"actual_value": -1}, "actual_value"),
        ("win", {"actual_value": 1, "closed_on": tomorrow_everywhere}, "closed_on"),
        ("win", {"actual_value": 1, "closed_on": "soon"}, "closed_on"),
        (None, {"status": "won"}, "status"),
        (None, {"currency": "euro"}, "currency"),
        (None, {"name": None}, "name"),
    ]
    for action, body, field in bad:
        answer = change(client, opportunity, action, body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in {e["field"] for e in answer.json()["errors"]}, answer.text
    unknown = change(client, opportunity, "lose", {"reason": "bored"}).json()
    assert unknown["allowed"] == ["out_sold", "no_budget", "no_decision", "timing", "canceled"]
    assert "one of: out_sold, no_budget" in unknown["detail"]
    assert change(client, opportunity, "win", {"actual_value": 1}, version=9).status_code == 412
    assert change(client, opportunity, None, {"name": "x"}, version="none").status_code == 428
    assert change(client, {"id": 999, "version": 1}, "win", {"actual_value": 1}).status_code == 404
    assert client.get(f"/api/opportunities/{opportunity['id']}").json() == opportunity
    assert client.get(f"/api/opportunities/{opportunity['id']}/history").json()["items"] == []
    assert client.get(f"/api/opportunities/{opportunity['id']}/audit").json()["items"] == []


def test_each_change_is_announced_with_its_lead(client: Client, service: Service) -> None:
    subscribe(
        client,
        "http://127.0.0.1:9/hooks",
        "opportunity.updated",
        "opportunity.won",
        "opportunity.lost",
        "opportunity.reopened",
    )
    lead, opportunity = qualified(client)
    opportunity = change(client, opportunity, None, {"name": "Renewal"}).json()
    opportunity = change(client, opportunity, "lose", {"reason": "timing", "note": "Q3"}).json()
    opportunity = change(client, opportunity, "reopen", {"note": "back"}).json()
    change(client, opportunity, "win", {"actual_value": 10})
    with service.db.read() as session:
        events = list(session.exec(select(WebhookEvent).order_by(WebhookEvent.created_at)))
    assert [(e.type, e.lead_id) for e in events] == [
        ("opportunity.updated", lead["id"]),
        ("opportunity.lost", lead["id"]),
        ("opportunity.reopened", lead["id"]),
        ("opportunity.won", lead["id"]),
    ]
    data = [json.loads(e.body)["data"] for e in events]
    assert data[0]["changes"] == {"name": {"from": "Pricing webinar", "to": "Renewal"}}
    assert (data[1]["lost_reason"], data[1]["note"], data[1]["status"]) == ("timing", "Q3", "lost")
    assert (data[2]["from_status"], data[2]["note"]) == ("lost", "back")
    assert (data[3]["actual_value"], data[3]["currency"], data[3]["closed_on"]) == (
        10,
        "EUR",
        today(),
    )
    assert all(d["opportunity_id"] == opportunity["id"] for d in data)
    assert [d["version"] for d in data] == [2, 3, 4, 5]


def test_workers_close_the_opportunities_of_the_leads_they_see(
    app_client: Client, auth: KeyMaker, service: Service
) -> None:
    admin = auth(Role.ADMIN)
    app_client.headers.update(admin)
    for handle in ("ana", "bo"):
        made = app_client.post("/api/sellers", json={"handle": handle, "name": handle})
        assert made.status_code == 201, made.text
    _, theirs = qualified(app_client, owner="bo")
    _, hers = qualified(app_client, owner="ana")
    with service.db.write() as session:
        _, secret = keys.create_key(session, Role.SALESPERSON, "ana's key", seller="ana")
    ana = {"Authorization": f"Bearer {secret}"}
    app_client.headers.update(ana)
    for action, body in (
        (None, {"name": "x"}),
        ("win", {"actual_value": 1}),
        ("lose", {"reason": "timing"}),
        ("reopen", {"note": "x"}),
    ):
        assert change(app_client, theirs, action, body).status_code == 404
    for path in ("", "/history", "/audit"):
        assert app_client.get(f"/api/opportunities/{theirs['id']}{path}").status_code == 404
    won = change(app_client, hers, "win", {"actual_value": 1})
    assert won.status_code == 200, won.text
    assert app_client.get(f"/api/opportunities/{hers['id']}/history").status_code == 200

    app_client.headers.update(auth(Role.MARKETER))
    assert change(app_client, theirs, "win", {"actual_value": 1}).status_code == 403
    assert app_client.get(f"/api/opportunities/{theirs['id']}/history").status_code == 200


def test_the_default_process_qualifies_from_sales_acceptance_with_its_steps_filled(
    client: Client,
) -> None:
    lead = create(client)
    refused = act(client, lead, "qualify", DEAL)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith(":lead-not-ready-to-qualify")
    assert (problem["stage"], problem["qualify_from"]) == ("inquiry", ["sales_acceptance"])
    assert "not from stage 'inquiry'" in problem["detail"]

    ready = create(client, owner="sam", sales_ready=True)
    assert ready["stage"] == "sales_acceptance"
    refused = act(client, ready, "qualify", DEAL)
    assert refused.status_code == 409
    assert refused.json()["missing_steps"] == ["sales_accepted"]
    assert "required steps missing: sales_accepted" in refused.json()["detail"]
    for made in (lead, ready):
        read = client.get(f"/api/leads/{made['id']}").json()
        assert (read["status"], read["version"], read["opportunity"]) == (
            "open",
            made["version"],
            None,
        )
    assert client.get("/api/opportunities").json()["items"] == []


def use_stages(client: Client, text: str) -> None:
    client.app.state.services.catalog = bpf.Catalog(parse(text, "stages.yaml"), "stages.yaml")


BUNDLED = bpf.bundled_stages_file().read_text()
OWN_REASONS = (
    BUNDLED.replace("    qualify_from: [sales_acceptance]\n", "")
    .replace(
        "disqualify_reasons: [lost, cannot_contact, no_longer_interested, canceled]",
        "disqualify_reasons: [lost, duplicate, spam, wrong_person]",
    )
    .replace(
        "lost_reasons: [out_sold, no_budget, no_decision, timing, canceled]",
        "lost_reasons: [price]",
    )
)


def test_stages_yaml_gives_the_reasons_and_may_qualify_from_anywhere(client: Client) -> None:
    assert OWN_REASONS != BUNDLED
    use_stages(client, OWN_REASONS)
    [process] = client.get("/api/processes").json()
    assert process["disqualify_reasons"] == ["lost", "duplicate", "spam", "wrong_person"]
    assert process["qualify_from"][0] == "inquiry" and len(process["qualify_from"]) == 5

    spam = create(client)
    refused = act(client, spam, "disqualify", {"reason": "no_longer_interested"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "reason"
    assert refused.json()["allowed"] == ["lost", "duplicate", "spam", "wrong_person"]
    done = act(client, spam, "disqualify", {"reason": "spam"})
    assert done.status_code == 200, done.text
    assert done.json()["lead"]["status_reason"] == "spam"

    # Without qualify_from, an Inquiry lead (no required steps) is qualified.
    answer = act(client, create(client), "qualify", DEAL)
    assert answer.status_code == 201, answer.text
    opportunity = answer.json()["opportunity"]
    assert answer.json()["lead"]["opportunity"] == {"id": opportunity["id"], "status": "open"}
    refused = change(client, opportunity, "lose", {"reason": "timing"})
    assert refused.status_code == 422 and refused.json()["allowed"] == ["price"]
    assert change(client, opportunity, "lose", {"reason": "price"}).status_code == 200


def test_the_openapi_document_describes_the_reasons(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()["components"]["schemas"]
    disqualify = next(v for k, v in schema.items() if k.endswith("DisqualifyRequest"))
    reason = disqualify["properties"]["reason"]
    assert "enum" not in reason and "GET /api/processes" in reason["description"]


def test_erasing_the_person_removes_the_notes_and_names_of_their_opportunities(
    client: Client, auth: KeyMaker
) -> None:
    ana = client.post("/api/contacts", json={"email": "ana@example.com"}).json()
    _, opportunity = qualified(client, parent_contact_id=ana["id"])
    renamed = change(
        client, opportunity, None, {"name": "Ana Lima's warehouse", "estimated_value": 90}
    )
    assert renamed.status_code == 200, renamed.text
    lost = change(client, renamed.json(), "lose", {"reason": "timing", "note": "Ana Lima moved"})
    assert lost.status_code == 200, lost.text
    erased = client.post(f"/api/contacts/{ana['id']}/erasure", headers=auth(Role.MARKETER))
    assert erased.status_code in (200, 201), erased.text
    [history] = client.get(f"/api/opportunities/{opportunity['id']}/history").json()["items"]
    assert (history["status"], history["reason"], history["note"]) == ("lost", "timing", None)
    entries = client.get(f"/api/opportunities/{opportunity['id']}/audit").json()["items"]
    seen = {(e["field"], e["old"], e["new"], e["redacted"]) for e in entries}
    assert ("name", None, None, True) in seen
    assert not any("Ana" in str(e) for e in entries)
    assert ("lost_reason", None, "timing", False) in seen
    assert ("estimated_value_cents", 2500050, 9000, False) in seen
