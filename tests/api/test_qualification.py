"""Qualification through the API: criteria over live scoring models, the lifecycle, and what
happens to the open leads that meet them."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

import bpf
from api.app import Service, create_app, open_service
from api.http.state import Services
from api.services.keys import Role, create_key
from api.services.scoring import evaluation as scoring_service
from api.settings import Settings
from tests.api.test_assignment import close
from tests.api.test_scoring import ago, contact, history, interact, lead, live, wait
from tests.conftest import KeyMaker

SA = "sales_acceptance"
AMQ = "automated_marketing_qualification"
MQ = "marketing_qualified"
PEOPLE = itertools.count()

# Engagement: 10 points an email opened. Fit: points for the contact's job title, graded.
ENGAGEMENT = {"rules": [{"type": "behaviour", "name": "opens", "kind": "email_open", "points": 10}]}
FIT = {
    "rules": [
        {
            "type": "attribute",
            "name": "in marketing",
            "when": {"field": "contact.job_title", "op": "contains", "value": "marketing"},
            "points": 30,
        },
        {
            "type": "attribute",
            "name": "heads",
            "when": {"field": "contact.job_title", "op": "contains", "value": "head"},
            "points": 20,
        },
    ],
    "grades": [
        {"name": "A", "min": 40},
        {"name": "B", "min": 20, "max": 40},
        {"name": "C", "max": 20},
    ],
}


@pytest.fixture
def marketer(app_client: TestClient, auth: KeyMaker) -> TestClient:  # type: ignore[type-arg]
    app_client.headers.update(auth(Role.MARKETER))
    return app_client


def services(client: TestClient) -> Services:  # type: ignore[type-arg]
    found: Services = client.app.state.services
    return found


def match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


def create(client: TestClient, criteria: Any, **body: Any) -> Any:  # type: ignore[type-arg]
    return client.post(
        "/api/qualifications", json={"name": body.pop("name", "mql"), "criteria": criteria, **body}
    )


def published(client: TestClient, criteria: Any, **body: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    made = create(client, criteria, **body)
    assert made.status_code == 201, made.text
    started = client.post(
        f"/api/qualifications/{made.json()['id']}/publish", headers=match(made.json()["version"])
    )
    assert started.status_code == 202, started.text
    wait(client, started.json()["evaluation"]["id"])
    result: dict[str, Any] = started.json()["qualification"]
    return result


def person_lead(
    client: TestClient, job_title: str = "Analyst"
) -> tuple[dict[str, Any], dict[str, Any]]:  # type: ignore[type-arg]
    person = contact(client, email=f"p{next(PEOPLE)}@x.io", job_title=job_title)
    return person, lead(client, parent_contact_id=person["id"])


def opens(client: TestClient, person: dict[str, Any], times: int = 1) -> None:  # type: ignore[type-arg]
    interact(
        client,
        *[{"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": person["id"]}] * times,
    )


def read(client: TestClient, lead_id: int) -> dict[str, Any]:  # type: ignore[type-arg]
    found: dict[str, Any] = client.get(f"/api/leads/{lead_id}").json()
    return found


def errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


# -- criteria ---------------------------------------------------------------------------------


def test_criteria_name_live_lead_models_only(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, ENGAGEMENT, "engagement")
    assert (
        marketer.post("/api/scoring-models", json={"name": "fit", "definition": FIT}).status_code
        == 201
    )
    live(marketer, {"entity": "account", "rules": []}, "accounts")

    refused = create(
        marketer,
        {
            "any": [
                {"model": "engagement", "score_at_least": 10},
                {"model": "fit", "grade_in": ["A"]},
                {
                    "all": [
                        {"model": "engagment", "score_at_least": 1},
                        {"model": "accounts", "score_at_least": 1},
                    ]
                },
            ]
        },
    )
    found = errors(refused)
    assert set(found) == {
        "criteria.any[1].model",
        "criteria.any[2].all[0].model",
        "criteria.any[2].all[1].model",
    }
    assert "'fit' is draft" in found["criteria.any[1].model"]
    assert "did you mean 'engagement'?" in found["criteria.any[2].all[0].model"]
    assert "scores accounts" in found["criteria.any[2].all[1].model"]
    assert marketer.get("/api/qualifications").json() == []

    no_grade = create(marketer, {"model": "engagement", "grade_in": ["hot"]})
    assert "has no grade 'hot'" in errors(no_grade)["criteria.grade_in[0]"]


def test_criteria_are_checked_for_shape_and_depth(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, ENGAGEMENT, "engagement")
    test = {"model": "engagement", "score_at_least": 10}

    def nested(depth: int) -> dict[str, Any]:
        criteria: dict[str, Any] = test
        for _ in range(depth):
            criteria = {"all": [criteria]}
        return criteria

    assert create(marketer, nested(5), name="deep enough").status_code == 201
    too_deep = errors(create(marketer, nested(6)))
    assert too_deep == {"criteria" + ".all[0]" * 5: "groups nest at most 5 deep"}

    found = errors(
        create(
            marketer,
            {
                "any": [
                    {"model": "engagement", "score_at_least": "high"},
                    {"model": "engagement", "grade_in": []},
                    {"model": "engagement"},
                    {"all": [], "any": []},
                    {"all": []},
                    {"model": "engagement", "score_at_least": 1, "colour": "red"},
                    [1],
                ]
            },
        )
    )
    assert found == {
        "criteria.any[0].score_at_least": "a number",
        "criteria.any[1].grade_in": "a list of 1 to 20 grade names",
        "criteria.any[2]": "a test has exactly one of score_at_least or grade_in",
        "criteria.any[3]": "a group has one key, 'all' or 'any'; found also: any",
        "criteria.any[4].all": "a non-empty list of tests and groups",
        "criteria.any[5].colour": "unknown key; a test has model and score_at_least or grade_in",
        "criteria.any[6]": "expected a test {model, score_at_least} or {model, grade_in}, or a "
        "group {all: [...]} or {any: [...]}",
    }
    many = errors(create(marketer, {"any": [test] * 41}))
    assert many == {"criteria": "at most 40 tests; these criteria have 41"}
    nothing = create(marketer, test, actions={"marketing_qualified": False, "sales_ready": False})
    assert nothing.status_code == 422
    assert "at least one action" in nothing.text
    assert [q["name"] for q in marketer.get("/api/qualifications").json()] == ["deep enough"]


# -- the lifecycle ----------------------------------------------------------------------------


def test_a_published_qualification_is_read_only_until_stopped(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, ENGAGEMENT, "engagement")
    made = create(marketer, {"model": "engagement", "score_at_least": 10})
    assert made.status_code == 201
    draft = made.json()
    assert (draft["status"], draft["version"], made.headers["etag"]) == ("draft", 1, '"1"')
    assert draft["actions"] == {"marketing_qualified": True, "sales_ready": False, "activities": []}
    assert create(marketer, {"model": "engagement", "score_at_least": 1}).status_code == 409

    edited = marketer.patch(
        f"/api/qualifications/{draft['id']}",
        json={"criteria": {"model": "engagement", "score_at_least": 20}},
        headers=match(1),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["criteria"] == {"model": "engagement", "score_at_least": 20.0}
    qid = draft["id"]
    assert marketer.post(f"/api/qualifications/{qid}/stop", headers=match(2)).status_code == 409
    assert marketer.post(f"/api/qualifications/{qid}/publish").status_code == 428
    assert marketer.post(f"/api/qualifications/{qid}/publish", headers=match(1)).status_code == 412

    started = marketer.post(f"/api/qualifications/{qid}/publish", headers=match(2))
    assert started.status_code == 202
    assert started.headers["location"] == f"/api/evaluations/{started.json()['evaluation']['id']}"
    wait(marketer, started.json()["evaluation"]["id"])
    assert started.json()["qualification"]["status"] == "published"

    refused = marketer.patch(
        f"/api/qualifications/{qid}",
        json={"criteria": {"model": "engagement", "score_at_least": 5}},
        headers=match(3),
    )
    assert refused.status_code == 409
    assert "published" in refused.json()["detail"] and "stop it" in refused.json()["detail"]
    assert marketer.post(f"/api/qualifications/{qid}/publish", headers=match(3)).status_code == 409

    stopped = marketer.post(f"/api/qualifications/{qid}/stop", headers=match(3))
    assert stopped.json()["status"] == "stopped"
    changed = marketer.patch(
        f"/api/qualifications/{qid}",
        json={"criteria": {"model": "engagement", "score_at_least": 5}, "name": "warm"},
        headers=match(4),
    )
    assert (changed.json()["name"], changed.json()["version"]) == ("warm", 5)
    again = marketer.post(f"/api/qualifications/{qid}/publish", headers=match(5))
    assert again.status_code == 202
    assert marketer.get(f"/api/qualifications/{qid}").json()["status"] == "published"
    assert marketer.get("/api/qualifications/999").status_code == 404


def test_only_marketers_change_qualifications(client: TestClient, auth: KeyMaker) -> None:  # type: ignore[type-arg]
    client.headers.update(auth(Role.TELEPROSPECTOR))
    assert create(client, {"model": "engagement", "score_at_least": 1}).status_code == 403
    assert client.get("/api/qualifications").status_code == 200


# -- qualifying leads -------------------------------------------------------------------------


def test_publishing_qualifies_every_lead_and_scoring_qualifies_at_once(
    marketer: TestClient,  # type: ignore[type-arg]
) -> None:
    live(marketer, ENGAGEMENT, "engagement")
    hot, hot_lead = person_lead(marketer, "a")
    cold, cold_lead = person_lead(marketer, "b")
    opens(marketer, hot, 2)
    opens(marketer, cold, 1)
    published(marketer, {"model": "engagement", "score_at_least": 20})
    assert read(marketer, hot_lead["id"])["status_reason"] == MQ
    assert read(marketer, hot_lead["id"])["status"] == "open"
    assert read(marketer, cold_lead["id"])["status_reason"] == "new"

    opens(marketer, cold, 1)
    after = read(marketer, cold_lead["id"])
    assert (after["status_reason"], after["sales_ready"], after["stage"]) == (MQ, False, AMQ)


def test_only_open_leads_are_qualified(
    marketer: TestClient,  # type: ignore[type-arg]
    auth: KeyMaker,
) -> None:
    live(marketer, ENGAGEMENT, "engagement")
    leads = {}
    for status in ("open", "qualified", "disqualified"):
        person, made = person_lead(marketer, status)
        if status != "open":
            close(marketer, made["id"], status, auth(Role.ADMIN))
        opens(marketer, person, 3)
        leads[status] = read(marketer, made["id"])
    published(
        marketer,
        {"model": "engagement", "score_at_least": 10},
        actions={"marketing_qualified": True, "sales_ready": True},
    )
    after = {status: read(marketer, x["id"]) for status, x in leads.items()}
    assert (after["open"]["status_reason"], after["open"]["sales_ready"]) == (MQ, True)
    assert after["open"]["stage"] == SA
    for status in ("qualified", "disqualified"):
        assert after[status]["status_reason"] == leads[status]["status_reason"] != MQ
        assert after[status]["sales_ready"] is False
        assert after[status]["version"] == leads[status]["version"]


def test_a_qualified_lead_stays_qualified_when_its_scores_fall(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, FIT, "fit")
    published(marketer, {"model": "fit", "grade_in": ["A"]})
    person, made = person_lead(marketer, "Head of Marketing")
    assert read(marketer, made["id"])["status_reason"] == MQ

    changed = marketer.patch(
        f"/api/contacts/{person['id']}",
        json={"job_title": "Intern"},
        headers=match(person["version"]),
    )
    assert changed.status_code == 200
    scores = marketer.get(f"/api/leads/{made['id']}/scores").json()
    assert (scores[0]["score"], scores[0]["grade"]) == (0.0, "C")
    assert read(marketer, made["id"])["status_reason"] == MQ
    run = marketer.post("/api/evaluations").json()
    wait(marketer, run["id"])
    assert read(marketer, made["id"])["status_reason"] == MQ


def test_each_qualification_has_its_own_actions(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, ENGAGEMENT, "engagement")
    live(marketer, FIT, "fit")
    published(marketer, {"model": "fit", "grade_in": ["A", "B"]}, name="fit")
    published(
        marketer,
        {
            "all": [
                {"model": "engagement", "score_at_least": 30},
                {
                    "any": [
                        {"model": "fit", "grade_in": ["A"]},
                        {"model": "engagement", "score_at_least": 50},
                    ]
                },
            ]
        },
        name="ready",
        actions={"marketing_qualified": False, "sales_ready": True},
    )
    busy, busy_lead = person_lead(marketer, "Intern")
    _, fitting_lead = person_lead(marketer, "Marketing assistant")
    both, both_lead = person_lead(marketer, "Head of Marketing")
    opens(marketer, busy, 5)
    opens(marketer, both, 3)

    def state(x: dict[str, Any]) -> tuple[str, bool, str]:
        found = read(marketer, x["id"])
        return found["status_reason"], found["sales_ready"], found["stage"]

    assert state(busy_lead) == ("new", True, SA)
    assert state(fitting_lead) == (MQ, False, AMQ)
    assert state(both_lead) == (MQ, True, SA)
    assert history(marketer, both_lead["id"]) == [
        (AMQ, "begin_marketing_qualification", "scoring"),
        (SA, "hand_to_sales", "qualification"),
    ]


def test_sales_ready_by_qualification_obeys_the_automatic_sales_ready_switch(
    marketer: TestClient,  # type: ignore[type-arg]
    auth: KeyMaker,
) -> None:
    marketer.post(
        "/api/scoring-configurations",
        json={"name": "manual", "automatic_sales_ready": False},
        headers=auth(Role.ADMIN),
    )
    live(marketer, ENGAGEMENT, "engagement")
    published(
        marketer,
        {"model": "engagement", "score_at_least": 10},
        actions={"marketing_qualified": True, "sales_ready": True},
    )
    person, made = person_lead(marketer)
    opens(marketer, person)
    after = read(marketer, made["id"])
    assert (after["status_reason"], after["sales_ready"], after["stage"]) == (MQ, False, AMQ)

    marketer.post(
        "/api/scoring-configurations",
        json={"name": "automatic", "automatic_sales_ready": True},
        headers=auth(Role.ADMIN),
    )
    wait(marketer, marketer.post("/api/evaluations").json()["id"])
    after = read(marketer, made["id"])
    assert (after["sales_ready"], after["stage"]) == (True, SA)


def test_a_stopped_model_makes_its_tests_fail_and_shows_a_warning(marketer: TestClient) -> None:  # type: ignore[type-arg]
    engagement = live(marketer, ENGAGEMENT, "engagement")
    live(marketer, FIT, "fit")
    q = published(
        marketer,
        {
            "any": [
                {"model": "fit", "grade_in": ["A"]},
                {"model": "engagement", "score_at_least": 10},
            ]
        },
    )
    assert marketer.get(f"/api/qualifications/{q['id']}").json()["warnings"] == []
    stopped = marketer.post(
        f"/api/scoring-models/{engagement['id']}/stop", headers=match(engagement["version"])
    )
    assert stopped.status_code == 200

    shown = marketer.get(f"/api/qualifications/{q['id']}").json()
    assert shown["status"] == "published"
    assert shown["warnings"] == [
        {
            "field": "criteria.any[1].model",
            "reason": "scoring model 'engagement' is stopped; criteria read live models only",
        }
    ]
    person, made = person_lead(marketer, "Intern")
    opens(marketer, person, 3)
    assert read(marketer, made["id"])["status_reason"] == "new"
    _, fitting = person_lead(marketer, "Head of Marketing")
    assert read(marketer, fitting["id"])["status_reason"] == MQ

    halted = marketer.post(f"/api/qualifications/{q['id']}/stop", headers=match(q["version"]))
    assert halted.json()["warnings"] == shown["warnings"]
    again = marketer.post(
        f"/api/qualifications/{q['id']}/publish", headers=match(halted.json()["version"])
    )
    assert "criteria.any[1].model" in errors(again)
    assert marketer.get(f"/api/qualifications/{q['id']}").json()["status"] == "stopped"


def test_marketing_qualified_fires_automations_as_qualification(
    database_url: str, tmp_path: Path
) -> None:
    text = (
        "processes:\n"
        "  - name: nurture\n"
        "    default: true\n"
        "    stages: [{name: new}, {name: qualified}]\n"
        "    transitions:\n"
        "      - {trigger: qualify, source: new, dest: qualified}\n"
        "    automations:\n"
        "      - {when: marketing_qualified, fire: qualify}\n"
    )
    path = tmp_path / "stages.yaml"
    path.write_text(text)
    assert bpf.Catalog.from_file(path).processes["nurture"].stages == ["new", "qualified"]
    service = open_service(
        Settings(database_url=database_url, stages_file=path, periodic_jobs=False)
    )
    try:
        with TestClient(create_app(service)) as client:
            with service.db.write() as session:
                _, secret = create_key(session, Role.MARKETER, "marketer")
            client.headers["Authorization"] = f"Bearer {secret}"
            live(client, ENGAGEMENT, "engagement")
            published(client, {"model": "engagement", "score_at_least": 10})
            person, made = person_lead(client)
            assert read(client, made["id"])["stage"] == "new"
            opens(client, person)
            assert read(client, made["id"])["stage"] == "qualified"
            assert history(client, made["id"]) == [("qualified", "qualify", "qualification")]
    finally:
        service.db.dispose()


def test_a_body_nested_too_deeply_is_refused_without_harm(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, ENGAGEMENT, "engagement")
    test = '{"model": "engagement", "score_at_least": 1}'
    body = '{"name": "x", "criteria": ' + '{"all": [' * 20_000 + test + "]}" * 20_000 + "}"
    refused = marketer.post(
        "/api/qualifications", content=body, headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == "the JSON body nests too deeply"
    assert marketer.get("/api/qualifications").json() == []


def test_publishing_joins_a_full_evaluation_already_queued(
    marketer: TestClient,  # type: ignore[type-arg]
    service: Service,
) -> None:
    live(marketer, ENGAGEMENT, "engagement")
    person, made = person_lead(marketer)
    opens(marketer, person)
    queued = scoring_service.new_run(service.db)
    draft = create(marketer, {"model": "engagement", "score_at_least": 10}).json()
    started = marketer.post(f"/api/qualifications/{draft['id']}/publish", headers=match(1))
    assert started.json()["evaluation"]["id"] == queued.id
    assert queued.id is not None
    assert read(marketer, made["id"])["status_reason"] == "new"
    services(marketer).scheduler.submit(queued.id)
    wait(marketer, queued.id)
    assert read(marketer, made["id"])["status_reason"] == MQ


def test_a_qualification_makes_its_activities_once_for_each_lead_it_qualifies(
    marketer: TestClient,  # type: ignore[type-arg]
) -> None:
    live(marketer, ENGAGEMENT, "engagement")
    call = {"kind": "phone_call", "subject": "Call the new MQL", "due_in": "4h"}
    refused = create(
        marketer,
        {"model": "engagement", "score_at_least": 20},
        actions={"activities": [{**call, "due_in": "soon"}]},
    )
    assert "actions.activities.0.due_in" in errors(refused)
    made = published(
        marketer, {"model": "engagement", "score_at_least": 20}, actions={"activities": [call]}
    )
    assert made["actions"]["activities"] == [{**call, "description": None}]
    person, hot = person_lead(marketer)
    opens(marketer, person, 2)
    opens(marketer, person, 1)
    found = marketer.get(f"/api/leads/{hot['id']}/activities").json()["items"]
    assert [(a["kind"], a["subject"], a["source"]) for a in found] == [
        ("phone_call", "Call the new MQL", "qualification")
    ]
    _, cold = person_lead(marketer)
    assert marketer.get(f"/api/leads/{cold['id']}/activities").json()["items"] == []
