"""Leads over HTTP: records, filters, pages, moves, history and the errors a user sees."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from api.services.keys import Role
from tests.api.closing import ensure_seller
from tests.conftest import KeyMaker

AMQ = "automated_marketing_qualification"
TA = "teleprospecting_acceptance"
TQ = "teleprospecting_qualification"
SA = "sales_acceptance"


def create(client: TestClient, **fields: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    response = client.post("/api/leads", json={"topic": "Webinar follow-up", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def move(client: TestClient, lead: dict[str, Any], **body: Any):  # type: ignore[no-untyped-def,type-arg]
    return client.post(
        f"/api/leads/{lead['id']}/stage", json=body, headers={"If-Match": f'"{lead["version"]}"'}
    )


def patch(client: TestClient, lead: dict[str, Any], **body: Any):  # type: ignore[no-untyped-def,type-arg]
    return client.patch(
        f"/api/leads/{lead['id']}", json=body, headers={"If-Match": f'"{lead["version"]}"'}
    )


def problem_fields(response: Any) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def test_a_new_lead_starts_in_the_first_stage_of_the_default_process(client: TestClient) -> None:
    contact = client.post("/api/contacts", json={"email": "ana@example.com"}).json()
    lead = create(
        client,
        marketing_context={"kind": "form", "id": "webinar-2026"},
        parent_contact_id=contact["id"],
        attributes={"industry": "retail", "employees": 40},
    )
    assert lead["process"] == "lead_to_opportunity"
    assert lead["stage"] == "inquiry"
    assert lead["status"] == "open" and lead["status_reason"] == "new"
    assert lead["version"] == 1
    assert lead["marketing_context"] == {"kind": "form", "id": "webinar-2026"}
    assert lead["attributes"] == {"industry": "retail", "employees": 40}
    read = client.get(f"/api/leads/{lead['id']}")
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == lead


def test_creating_with_bad_fields_names_each_field_and_writes_nothing(client: TestClient) -> None:
    response = client.post(
        "/api/leads",
        json={
            "topic": "",
            "marketing_context": {"kind": "billboard", "id": "x"},
            "score": 10,
            "attributes": {"budget_amount": "lots"},
        },
    )
    assert response.status_code == 422
    fields = problem_fields(response)
    assert set(fields) >= {"topic", "marketing_context.kind", "score"}
    response = client.post(
        "/api/leads", json={"topic": "x", "attributes": {"budget_amount": "lots"}}
    )
    assert response.status_code == 422
    assert problem_fields(response) == {"attributes.budget_amount": "must be a number"}
    assert client.get("/api/leads").json()["items"] == []


def test_parents_must_exist(client: TestClient) -> None:
    response = client.post("/api/leads", json={"topic": "x", "parent_contact_id": 42})
    assert response.status_code == 422
    assert problem_fields(response) == {"parent_contact_id": "there is no contact 42"}
    lead = create(client)
    response = patch(client, lead, parent_account_id=9)
    assert response.status_code == 422
    assert problem_fields(response) == {"parent_account_id": "there is no account 9"}
    assert client.get(f"/api/leads/{lead['id']}").json()["version"] == 1


def test_unknown_process_is_refused_with_a_suggestion(client: TestClient) -> None:
    response = client.post("/api/leads", json={"topic": "x", "process": "lead_to_oportunity"})
    assert response.status_code == 422
    assert "did you mean 'lead_to_opportunity'?" in problem_fields(response)["process"]


def test_unknown_lead_is_404_problem(client: TestClient) -> None:
    response = client.get("/api/leads/999")
    assert response.status_code == 404
    assert response.json()["detail"] == "there is no lead 999"


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/leads", content=b"{topic", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_list_filters_and_pages(client: TestClient) -> None:
    leads = [create(client, topic=f"lead {i}") for i in range(7)]
    client.post("/api/sellers", json={"handle": "ana", "name": "Ana"})  # an owner is a seller
    assert move(client, leads[1], action="next").status_code == 200
    assert move(client, leads[2], action="next").status_code == 200
    assert patch(client, leads[3], owner="ana").status_code == 200
    assert patch(client, leads[4], sales_ready=True).status_code == 200
    disqualified = client.post(
        f"/api/leads/{leads[5]['id']}/disqualify",
        json={"reason": "lost"},
        headers={"If-Match": f'"{leads[5]["version"]}"'},
    )
    assert disqualified.status_code == 200, disqualified.text

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/leads?{query}")
        assert response.status_code == 200, response.text
        return [lead["id"] for lead in response.json()["items"]]

    assert ids(f"stage={AMQ}") == [leads[1]["id"], leads[2]["id"]]
    assert ids("owner=ana") == [leads[3]["id"]]
    assert ids("sales_ready=true") == [leads[4]["id"]]
    assert ids(f"stage={SA}") == [leads[4]["id"]]
    assert ids("status=disqualified") == [leads[5]["id"]]
    assert len(ids("status=open")) == 6

    seen: list[int] = []
    cursor = None
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/leads?{query}").json()
        seen += [lead["id"] for lead in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [lead["id"] for lead in leads]


def test_page_size_is_capped_and_cursors_are_checked(client: TestClient) -> None:
    response = client.get("/api/leads?limit=201")
    assert response.status_code == 422
    assert "limit" in problem_fields(response)
    response = client.get("/api/leads?cursor=not-ours")
    assert response.status_code == 422
    assert problem_fields(response) == {"cursor": "not a cursor this API returned"}
    response = client.get("/api/leads?status=sleeping")
    assert response.status_code == 422


def test_next_completes_the_stage_or_names_the_missing_required_steps(client: TestClient) -> None:
    lead = create(client)
    lead = move(client, lead, action="next").json()
    assert lead["stage"] == AMQ
    lead = move(client, lead, action="next").json()
    assert lead["stage"] == TA
    assert lead["missing_steps"] == ["teleprospect_accepted"]
    refused = move(client, lead, action="next")
    assert refused.status_code == 409
    body = refused.json()
    assert body["missing_steps"] == ["teleprospect_accepted"]
    assert "required step 'teleprospect_accepted' is missing" in body["detail"]
    assert client.get(f"/api/leads/{lead['id']}").json() == lead


def test_a_move_not_allowed_from_the_stage_lists_the_moves_that_are(client: TestClient) -> None:
    lead = create(client)
    response = move(client, lead, trigger="start_teleprospecting")
    assert response.status_code == 409
    assert response.json()["allowed"] == [
        "next",
        "begin_marketing_qualification",
        "hand_to_teleprospecting",
        "hand_to_sales",
        "to:<stage>",
    ]


def test_unknown_trigger_and_stage_are_input_errors(client: TestClient) -> None:
    lead = create(client)
    response = move(client, lead, trigger="hand_to_sale")
    assert response.status_code == 422
    assert problem_fields(response)["trigger"].endswith("did you mean 'hand_to_sales'?")
    response = move(client, lead, to="sales_acceptanse", reason="typo")
    assert response.status_code == 422
    assert "did you mean 'sales_acceptance'?" in problem_fields(response)["to"]


def test_a_move_request_says_exactly_one_thing(client: TestClient) -> None:
    lead = create(client)
    assert move(client, lead).status_code == 422
    assert move(client, lead, action="next", trigger="hand_to_sales").status_code == 422
    response = move(client, lead, to=SA)
    assert response.status_code == 422
    assert problem_fields(response) == {
        "reason": "required when switching to a chosen stage or process"
    }
    assert move(client, lead, action="finish").status_code == 422


def test_switching_to_any_stage_records_the_reason(client: TestClient) -> None:
    lead = create(client)
    lead = move(client, lead, to=TQ, reason="called in by phone").json()
    assert lead["stage"] == TQ
    lead = move(client, lead, to="inquiry", reason="not ready after all").json()
    assert lead["stage"] == "inquiry"
    already = move(client, lead, to="inquiry", reason="again")
    assert already.status_code == 409
    history = client.get(f"/api/leads/{lead['id']}/history").json()["items"]
    assert [(h["from_stage"], h["to_stage"], h["trigger"], h["reason"]) for h in history] == [
        ("inquiry", TQ, None, "called in by phone"),
        (TQ, "inquiry", None, "not ready after all"),
    ]


def test_marking_sales_ready_by_hand_skips_to_sales_acceptance(client: TestClient) -> None:
    lead = create(client)
    lead = move(client, lead, action="next").json()
    lead = patch(client, lead, sales_ready=True).json()
    assert lead["stage"] == SA
    assert lead["sales_ready"] is True
    assert lead["version"] == 3
    history = client.get(f"/api/leads/{lead['id']}/history").json()["items"]
    last = history[-1]
    assert (last["from_stage"], last["to_stage"], last["trigger"]) == (AMQ, SA, "hand_to_sales")
    assert last["actor"] == "user" and last["actor_name"] == "admin tester"


def test_the_teleprospecting_path_is_walked_by_setting_its_steps(client: TestClient) -> None:
    lead = create(client)
    lead = move(client, lead, action="next").json()
    lead = patch(client, lead, attributes={"teleprospecting_ready": True}).json()
    assert lead["stage"] == TA
    lead = patch(client, lead, attributes={"teleprospect_accepted": True}).json()
    assert lead["stage"] == TQ
    lead = patch(
        client,
        lead,
        attributes={
            "budget_amount": 25000,
            "purchase_timeframe": "this_quarter",
            "call_notes": "ok",
        },
    ).json()
    assert lead["stage"] == TQ
    assert lead["missing_steps"] == ["sales_ready"]
    lead = patch(client, lead, sales_ready=True).json()
    assert lead["stage"] == SA
    assert lead["missing_steps"] == ["owner", "sales_accepted"]
    refused = move(client, lead, action="next")
    assert refused.status_code == 409


def test_a_lead_created_sales_ready_goes_straight_to_sales(client: TestClient) -> None:
    lead = create(client, sales_ready=True)
    assert lead["stage"] == SA
    history = client.get(f"/api/leads/{lead['id']}/history").json()["items"]
    assert [h["trigger"] for h in history] == ["hand_to_sales"]


def test_step_fields_are_type_checked(client: TestClient) -> None:
    lead = create(client)
    response = patch(
        client,
        lead,
        attributes={"purchase_timeframe": "someday", "teleprospect_accepted": "yes"},
    )
    assert response.status_code == 422
    assert problem_fields(response) == {
        "attributes.purchase_timeframe": (
            "must be one of: immediate, this_quarter, next_quarter, this_year, unknown"
        ),
        "attributes.teleprospect_accepted": "must be true or false",
    }
    assert problem_fields(patch(client, lead, owner=5)) == {
        "owner": "Input should be a valid string"
    }
    response = patch(client, lead, attributes={"stage": "x"})
    assert problem_fields(response) == {
        "attributes.stage": "'stage' is a lead field, not an attribute"
    }


def test_attributes_merge_and_null_removes(client: TestClient) -> None:
    lead = create(client, attributes={"a": 1, "b": "two"})
    lead = patch(client, lead, attributes={"a": None, "c": True}).json()
    assert lead["attributes"] == {"b": "two", "c": True}


def test_status_reason_changes_within_open_and_status_only_through_disposition(
    client: TestClient,
) -> None:
    lead = create(client)
    response = patch(client, lead, status_reason="lost")
    assert response.status_code == 422
    assert (
        "one of: new, contacted, marketing_qualified" in problem_fields(response)["status_reason"]
    )
    lead = patch(client, lead, status_reason="contacted").json()
    assert (lead["status"], lead["status_reason"]) == ("open", "contacted")
    for status in ("qualified", "disqualified"):
        response = patch(client, lead, status=status)
        assert response.status_code == 422
        assert "/qualify" in problem_fields(response)["status"]
    assert client.get(f"/api/leads/{lead['id']}").json()["version"] == lead["version"]


def test_an_update_that_changes_nothing_keeps_the_version(client: TestClient) -> None:
    ensure_seller(client, "ana")
    lead = create(client, owner="ana")
    same = patch(client, lead, owner="ana")
    assert same.status_code == 200
    assert same.json()["version"] == 1


def test_if_match_is_required_and_must_be_current(client: TestClient) -> None:
    lead = create(client)
    missing = client.post(f"/api/leads/{lead['id']}/stage", json={"action": "next"})
    assert missing.status_code == 428
    missing = client.patch(f"/api/leads/{lead['id']}", json={"owner": "x"})
    assert missing.status_code == 428
    moved = move(client, lead, action="next")
    assert moved.status_code == 200
    assert moved.headers["etag"] == '"2"'
    stale = move(client, lead, action="next")
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    stale = patch(client, lead, owner="bo")
    assert stale.status_code == 412
    current = client.get(f"/api/leads/{lead['id']}").json()
    assert current["stage"] == AMQ and current["owner"] is None and current["version"] == 2


def test_a_lead_can_switch_process(app_client: TestClient, auth: KeyMaker, tmp_path: Any) -> None:  # type: ignore[type-arg]
    # Uses the service's catalog, extended with a second process at run time.
    import bpf
    from bpf.validation import parse

    text = bpf.bundled_stages_file().read_text() + (
        "  - name: nurture\n    stages:\n      - name: warming\n      - name: warm\n"
    )
    app_client.app.state.services.catalog = bpf.Catalog(parse(text, "stages.yaml"), "stages.yaml")
    app_client.headers.update(auth(Role.ADMIN))
    lead = create(app_client)
    lead = move(app_client, lead, process="nurture", reason="not buying this year").json()
    assert (lead["process"], lead["stage"]) == ("nurture", "warming")
    lead = move(app_client, lead, action="next").json()
    assert lead["stage"] == "warm"
    lead = move(app_client, lead, process="lead_to_opportunity", to=AMQ, reason="back").json()
    assert (lead["process"], lead["stage"]) == ("lead_to_opportunity", AMQ)
    history = app_client.get(f"/api/leads/{lead['id']}/history").json()["items"]
    assert [(h["from_process"], h["process"], h["from_stage"], h["to_stage"]) for h in history] == [
        ("lead_to_opportunity", "nurture", "inquiry", "warming"),
        (None, "nurture", "warming", "warm"),
        ("nurture", "lead_to_opportunity", "warm", AMQ),
    ]
    same = move(app_client, lead, process="lead_to_opportunity", reason="x")
    assert same.status_code == 409


def test_history_reports_time_spent_in_the_stage_left(client: TestClient) -> None:
    lead = create(client)
    lead = move(client, lead, action="next").json()
    lead = move(client, lead, action="next").json()
    history = client.get(f"/api/leads/{lead['id']}/history").json()["items"]
    assert all(h["seconds_in_stage"] >= 0 for h in history)
    assert history[1]["at"] >= history[0]["at"]
    assert client.get("/api/leads/999/history").status_code == 404
