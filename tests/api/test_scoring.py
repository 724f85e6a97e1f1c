"""Scoring through the API: models and their lifecycle, the switches, every rule kind, the
outcomes they fire, explanations, insights and what-if."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import Service
from api.services.keys import Role
from api.services.scoring import evaluation as scoring_service
from leads.types import utcnow
from tests.conftest import KeyMaker
from tests.patience import SETTLE_SECONDS

AMQ = "automated_marketing_qualification"
SA = "sales_acceptance"


@pytest.fixture
def marketer(app_client: TestClient, auth: KeyMaker) -> TestClient:  # type: ignore[type-arg]
    app_client.headers.update(auth(Role.MARKETER))
    return app_client


def ago(**delta: float) -> str:
    return (utcnow() - dt.timedelta(**delta)).isoformat()


def wait(client: TestClient, run_id: int) -> dict[str, Any]:  # type: ignore[type-arg]
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        run = client.get(f"/api/evaluations/{run_id}").json()
        if run["status"] in ("done", "failed"):
            assert run["status"] == "done", run
            return run
        time.sleep(0.05)
    raise AssertionError("the evaluation did not finish")


def live(
    client: TestClient, definition: dict[str, Any], name: str = "engagement"
) -> dict[str, Any]:  # type: ignore[type-arg]
    created = client.post("/api/scoring-models", json={"name": name, "definition": definition})
    assert created.status_code == 201, created.text
    model = created.json()
    started = client.post(
        f"/api/scoring-models/{model['id']}/go-live", headers={"If-Match": f'"{model["version"]}"'}
    )
    assert started.status_code == 202, started.text
    wait(client, started.json()["evaluation"]["id"])
    return started.json()["model"]


def lead(client: TestClient, **fields: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    response = client.post("/api/leads", json={"topic": "t", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def contact(client: TestClient, **fields: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    response = client.post("/api/contacts", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


def interact(client: TestClient, *items: dict[str, Any]) -> None:  # type: ignore[type-arg]
    response = client.post("/api/interactions", json={"interactions": list(items)})
    assert response.status_code == 201, response.text


def scores(client: TestClient, lead_id: int) -> dict[str, dict[str, Any]]:  # type: ignore[type-arg]
    return {s["model"]: s for s in client.get(f"/api/leads/{lead_id}/scores").json()}


def score(client: TestClient, lead_id: int, model: str = "engagement") -> float | None:  # type: ignore[type-arg]
    found = scores(client, lead_id).get(model)
    return None if found is None else found["score"]


OPENS = {"type": "behaviour", "name": "opens", "kind": "email_open", "points": 5}


# -- the switches ---------------------------------------------------------------------------


def test_no_configuration_means_every_switch_on_and_the_newest_wins(
    client: TestClient,
    auth: KeyMaker,  # type: ignore[type-arg]
) -> None:
    effective = client.get("/api/scoring-configurations/effective").json()
    assert effective["id"] is None
    assert effective["automatic_sales_ready"] is True
    assert effective["automated_marketing_qualification"] is True
    assert effective["automatic_lead_score_cleanup"] is True
    admin = auth(Role.ADMIN)
    assert (
        client.post(
            "/api/scoring-configurations",
            json={"name": "first", "automatic_sales_ready": False},
            headers=admin,
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/scoring-configurations",
            json={"name": "second", "automatic_lead_score_cleanup": False},
            headers=admin,
        ).status_code
        == 201
    )
    effective = client.get("/api/scoring-configurations/effective").json()
    assert effective["name"] == "second"
    assert effective["automatic_sales_ready"] is True
    assert effective["automatic_lead_score_cleanup"] is False
    refused = client.post(
        "/api/scoring-configurations", json={"name": "x"}, headers=auth(Role.TELEPROSPECTOR)
    )
    assert refused.status_code == 403


# -- lifecycle ------------------------------------------------------------------------------


def test_a_live_model_is_read_only_and_edits_wait_for_draft(marketer: TestClient) -> None:  # type: ignore[type-arg]
    model = live(marketer, {"rules": [OPENS]})
    refused = marketer.patch(
        f"/api/scoring-models/{model['id']}",
        json={"name": "renamed"},
        headers={"If-Match": f'"{model["version"]}"'},
    )
    assert refused.status_code == 409
    assert "stop it, return it to draft, then edit it" in refused.json()["detail"]
    stopped = marketer.post(
        f"/api/scoring-models/{model['id']}/stop", headers={"If-Match": f'"{model["version"]}"'}
    ).json()
    assert stopped["status"] == "stopped"
    assert (
        marketer.patch(
            f"/api/scoring-models/{model['id']}",
            json={"name": "renamed"},
            headers={"If-Match": f'"{stopped["version"]}"'},
        ).status_code
        == 409
    )
    draft = marketer.post(
        f"/api/scoring-models/{model['id']}/draft", headers={"If-Match": f'"{stopped["version"]}"'}
    ).json()
    edited = marketer.patch(
        f"/api/scoring-models/{model['id']}",
        json={"name": "renamed"},
        headers={"If-Match": f'"{draft["version"]}"'},
    )
    assert edited.status_code == 200
    assert edited.json()["name"] == "renamed"


def test_grades_must_be_continuous_and_not_overlap(marketer: TestClient) -> None:  # type: ignore[type-arg]
    def attempt(grades: list[dict[str, Any]]) -> str:
        response = marketer.post(
            "/api/scoring-models", json={"name": "g", "definition": {"grades": grades}}
        )
        assert response.status_code == 422
        return response.json()["detail"]

    assert "grades 'B' and 'A' leave a gap: no grade from 40 to 50" in attempt(
        [{"name": "A", "min": 50}, {"name": "B", "min": 0, "max": 40}]
    )
    assert "grades 'B' and 'A' overlap from 50 to 60" in attempt(
        [{"name": "A", "min": 50}, {"name": "B", "min": 0, "max": 60}]
    )


def test_going_live_scores_everyone_and_stopping_cleans_up_or_keeps_stale(
    marketer: TestClient,
    auth: KeyMaker,  # type: ignore[type-arg]
) -> None:
    people = [contact(marketer, email=f"p{i}@x.io") for i in range(3)]
    leads = [lead(marketer, parent_contact_id=p["id"]) for p in people]
    interact(
        marketer,
        *[
            {"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": p["id"]}
            for p in people[:2]
        ],
    )
    model = live(marketer, {"rules": [OPENS]})
    assert [score(marketer, x["id"]) for x in leads] == [5.0, 5.0, 0.0]

    marketer.post(
        "/api/scoring-configurations",
        json={"name": "keep", "automatic_lead_score_cleanup": False},
        headers=auth(Role.ADMIN),
    )
    stopped = marketer.post(
        f"/api/scoring-models/{model['id']}/stop", headers={"If-Match": f'"{model["version"]}"'}
    ).json()
    kept = scores(marketer, leads[0]["id"])["engagement"]
    assert (kept["score"], kept["stale"]) == (5.0, True)

    again = marketer.post(
        f"/api/scoring-models/{model['id']}/go-live",
        headers={"If-Match": f'"{stopped["version"]}"'},
    ).json()
    wait(marketer, again["evaluation"]["id"])
    assert scores(marketer, leads[0]["id"])["engagement"]["stale"] is False

    marketer.post(
        "/api/scoring-configurations",
        json={"name": "clean", "automatic_lead_score_cleanup": True},
        headers=auth(Role.ADMIN),
    )
    marketer.post(
        f"/api/scoring-models/{model['id']}/stop",
        headers={"If-Match": f'"{again["model"]["version"]}"'},
    )
    assert scores(marketer, leads[0]["id"]) == {}


# -- rules ------------------------------------------------------------------------------------


def test_attribute_points_are_given_once_and_taken_back(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(
        marketer,
        {
            "rules": [
                {
                    "type": "attribute",
                    "name": "big budget",
                    "when": {"field": "lead.budget_amount", "op": "greater", "value": 10000},
                    "points": 20,
                }
            ]
        },
    )
    x = lead(marketer)
    for budget, expected in ((20000, 20.0), (30000, 20.0), (500, 0.0), (50000, 20.0)):
        x = marketer.patch(
            f"/api/leads/{x['id']}",
            json={"attributes": {"budget_amount": budget}},
            headers={"If-Match": f'"{x["version"]}"'},
        ).json()
        assert score(marketer, x["id"]) == expected, budget


def test_behaviour_rules_each_capped_at_least_and_none(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(
        marketer,
        {
            "rules": [
                {**OPENS, "cap": 12},
                {
                    "type": "behaviour",
                    "name": "pricing twice",
                    "kind": "page_visit",
                    "target": {"starts_with": "/pricing"},
                    "count": "at_least",
                    "times": 2,
                    "points": 15,
                },
                {
                    "type": "behaviour",
                    "name": "never submitted",
                    "kind": "form_submit",
                    "count": "none",
                    "points": -10,
                },
            ]
        },
    )
    person = contact(marketer, email="a@x.io")
    x = lead(marketer, parent_contact_id=person["id"])
    assert score(marketer, x["id"]) == -10.0
    opens = {"kind": "email_open", "occurred_at": ago(hours=2), "contact_id": person["id"]}
    interact(marketer, opens)
    assert score(marketer, x["id"]) == -5.0
    interact(marketer, opens, opens, opens)
    assert score(marketer, x["id"]) == 2.0  # capped at 12
    visit = {"kind": "page_visit", "occurred_at": ago(hours=1), "lead_id": x["id"]}
    interact(marketer, {**visit, "target": "/pricing"}, {**visit, "target": "/blog"})
    assert score(marketer, x["id"]) == 2.0
    interact(marketer, {**visit, "target": "/pricing/enterprise"})
    assert score(marketer, x["id"]) == 17.0
    interact(marketer, {"kind": "form_submit", "occurred_at": ago(minutes=5), "lead_id": x["id"]})
    assert score(marketer, x["id"]) == 27.0


def test_a_time_window_drops_points_the_moment_the_interaction_leaves_it(
    marketer: TestClient,
    service: Service,  # type: ignore[type-arg]
) -> None:
    live(marketer, {"rules": [{**OPENS, "window_days": 7}]})
    person = contact(marketer, email="w@x.io")
    x = lead(marketer, parent_contact_id=person["id"])
    occurred = utcnow() - dt.timedelta(days=7) + dt.timedelta(minutes=10)
    interact(
        marketer,
        {"kind": "email_open", "occurred_at": occurred.isoformat(), "contact_id": person["id"]},
    )
    explained = scores(marketer, x["id"])["engagement"]
    assert explained["score"] == 5.0
    expiry = dt.datetime.fromisoformat(explained["contributions"][0]["expires_at"])
    assert abs((expiry - (occurred + dt.timedelta(days=7))).total_seconds()) < 1
    # The scheduler's full evaluation, a second before and a second after the expiry.
    for moment, expected in (
        (expiry - dt.timedelta(seconds=1), 5.0),
        (expiry + dt.timedelta(seconds=1), 0.0),
    ):
        run = scoring_service.new_run(service.db)
        assert run.id is not None
        scoring_service.evaluate(service.db, service.catalog, run.id, as_of=moment)
        assert score(marketer, x["id"]) == expected


def test_decay_halves_points_every_half_life(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, {"rules": [{**OPENS, "points": 10, "half_life_days": 1}]})
    person = contact(marketer, email="d@x.io")
    x = lead(marketer, parent_contact_id=person["id"])
    interact(
        marketer, {"kind": "email_open", "occurred_at": ago(days=1), "contact_id": person["id"]}
    )
    assert score(marketer, x["id"]) == 5.0
    interact(
        marketer, {"kind": "email_open", "occurred_at": ago(days=2), "contact_id": person["id"]}
    )
    assert score(marketer, x["id"]) == 7.5


def test_audience_and_consent_decide_who_is_scored(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(
        marketer,
        {
            "audience": {"field": "lead.topic", "op": "starts_with", "value": "webinar"},
            "min_consent": "marketing",
            "rules": [
                {
                    "type": "attribute",
                    "name": "all",
                    "when": {"field": "lead.topic", "op": "is_set"},
                    "points": 1,
                }
            ],
        },
    )
    yes = contact(marketer, email="y@x.io", consent={"level": "marketing", "source": "form"})
    no = contact(marketer, email="n@x.io")
    inside = lead(marketer, topic="Webinar follow-up", parent_contact_id=yes["id"])
    unconsented = lead(marketer, topic="Webinar follow-up", parent_contact_id=no["id"])
    outside = lead(marketer, topic="Trade show", parent_contact_id=yes["id"])
    assert score(marketer, inside["id"]) == 1.0
    assert scores(marketer, unconsented["id"])["engagement"]["reason"] == (
        "the contact has not consented to marketing"
    )
    assert scores(marketer, outside["id"])["engagement"]["reason"] == "not in the model's audience"
    marketer.post(f"/api/contacts/{yes['id']}/consent", json={"level": "none", "source": "email"})
    assert score(marketer, inside["id"]) is None


# -- outcomes -----------------------------------------------------------------------------


def history(client: TestClient, lead_id: int) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    items = client.get(f"/api/leads/{lead_id}/history").json()["items"]
    return [(h["to_stage"], h["trigger"], h["actor"]) for h in items]


def test_the_first_score_moves_a_lead_to_marketing_qualification(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, {"rules": [OPENS]})
    x = lead(marketer)
    read = marketer.get(f"/api/leads/{x['id']}").json()
    assert read["stage"] == AMQ
    assert history(marketer, x["id"]) == [(AMQ, "begin_marketing_qualification", "scoring")]


def test_reaching_the_sales_ready_score_hands_the_lead_to_sales(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, {"rules": [OPENS], "sales_ready_score": 10})
    person = contact(marketer, email="s@x.io")
    x = lead(marketer, parent_contact_id=person["id"])
    opens = {"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": person["id"]}
    interact(marketer, opens)
    assert marketer.get(f"/api/leads/{x['id']}").json()["sales_ready"] is False
    interact(marketer, opens)
    read = marketer.get(f"/api/leads/{x['id']}").json()
    assert (read["sales_ready"], read["stage"]) == (True, SA)
    assert history(marketer, x["id"])[-1] == (SA, "hand_to_sales", "scoring")


def test_switches_off_stop_the_automatic_moves(marketer: TestClient, auth: KeyMaker) -> None:  # type: ignore[type-arg]
    marketer.post(
        "/api/scoring-configurations",
        json={
            "name": "manual",
            "automatic_sales_ready": False,
            "automated_marketing_qualification": False,
        },
        headers=auth(Role.ADMIN),
    )
    live(marketer, {"rules": [{**OPENS, "points": 50}], "sales_ready_score": 10})
    person = contact(marketer, email="m@x.io")
    x = lead(marketer, parent_contact_id=person["id"])
    interact(
        marketer, {"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": person["id"]}
    )
    read = marketer.get(f"/api/leads/{x['id']}").json()
    assert (read["stage"], read["sales_ready"]) == ("inquiry", False)
    assert scores(marketer, x["id"])["engagement"]["sales_ready"] is True
    assert history(marketer, x["id"]) == []


def test_a_lead_in_sales_acceptance_is_not_moved_back(marketer: TestClient) -> None:  # type: ignore[type-arg]
    x = lead(marketer, sales_ready=True)
    assert x["stage"] == SA
    live(marketer, {"rules": [OPENS], "sales_ready_score": 1})
    read = marketer.get(f"/api/leads/{x['id']}").json()
    assert read["stage"] == SA
    assert [h[0] for h in history(marketer, x["id"])] == [SA]


def test_sales_ready_wins_over_teleprospecting_ready_set_in_the_same_change(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    x = lead(client)
    moved = client.post(
        f"/api/leads/{x['id']}/stage",
        json={"trigger": "begin_marketing_qualification"},
        headers={"If-Match": f'"{x["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    both = client.patch(
        f"/api/leads/{x['id']}",
        json={"sales_ready": True, "attributes": {"teleprospecting_ready": True}},
        headers={"If-Match": f'"{moved.json()["version"]}"'},
    )
    assert both.status_code == 200, both.text
    assert both.json()["stage"] == SA
    assert [(h[0], h[1]) for h in history(client, x["id"])] == [
        (AMQ, "begin_marketing_qualification"),
        (SA, "hand_to_sales"),
    ]


@pytest.mark.slow
def test_sales_ready_wins_whatever_the_hash_seed(tmp_path: Path) -> None:
    """The order of the outcomes of one change is the process's, never that of a set: the
    test above, run in processes of their own, one per PYTHONHASHSEED, side by side."""
    node = f"{__file__}::test_sales_ready_wins_over_teleprospecting_ready_set_in_the_same_change"
    pytest_ = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    runs = {
        seed: subprocess.Popen(
            [*pytest_, "-n", "0", "--basetemp", str(tmp_path / seed), node],
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in ("0", "1", "2", "3", "42")
    }
    failed = {}
    for seed, run in runs.items():
        output = run.communicate(timeout=300)[0]
        if run.returncode != 0:
            failed[seed] = output[-2000:]
    assert not failed, failed


# -- explanations, insights, what-if -----------------------------------------------------------


def test_the_explanation_adds_up_to_the_score(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(
        marketer,
        {
            "rules": [
                {**OPENS, "window_days": 30},
                {
                    "type": "attribute",
                    "name": "retail",
                    "when": {"field": "account.industry", "op": "equals", "value": "retail"},
                    "points": 7.5,
                },
            ],
            "grades": [
                {"name": "hot", "min": 15},
                {"name": "warm", "min": 5, "max": 15},
                {"name": "cold", "max": 5},
            ],
        },
    )
    account = marketer.post("/api/accounts", json={"name": "Acme", "industry": "Retail"}).json()
    person = contact(marketer, email="e@x.io", account_id=account["id"])
    x = lead(marketer, parent_contact_id=person["id"])
    interact(
        marketer,
        *[
            {"kind": "email_open", "occurred_at": ago(days=d), "contact_id": person["id"]}
            for d in (1, 2)
        ],
    )
    explained = scores(marketer, x["id"])["engagement"]
    assert explained["score"] == 17.5
    assert explained["grade"] == "hot"
    parts = {c["rule"]: c for c in explained["contributions"]}
    assert sum(c["points"] for c in parts.values()) == 17.5
    assert parts["opens"]["occurrences"] == 2
    assert len(parts["opens"]["interactions"]) == 2
    assert parts["retail"]["held"] is True
    assert explained["next_change_at"] == parts["opens"]["expires_at"]


def test_insights_summarise_the_scores(marketer: TestClient) -> None:  # type: ignore[type-arg]
    people = [contact(marketer, email=f"i{i}@x.io") for i in range(10)]
    for index, person in enumerate(people):
        lead(marketer, parent_contact_id=person["id"])
        interact(
            marketer,
            *[{"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": person["id"]}]
            * index,
        ) if index else None
    model = live(
        marketer,
        {
            "rules": [OPENS],
            "sales_ready_score": 30,
            "grades": [{"name": "A", "min": 25}, {"name": "B", "max": 25}],
        },
    )
    insight = marketer.get(f"/api/scoring-models/{model['id']}/insights").json()
    assert insight["scored"] == 10
    assert insight["sales_ready"] == 4  # 6, 7, 8, 9 opens: 30 to 45 points
    assert insight["top_10_percent_threshold"] == 45.0
    assert insight["grades"] == {"A": 5, "B": 5}
    assert sum(b["count"] for b in insight["histogram"]) == 10


def test_what_if_reports_without_writing(marketer: TestClient) -> None:  # type: ignore[type-arg]
    people = [contact(marketer, email=f"w{i}@x.io") for i in range(4)]
    for index, person in enumerate(people):
        lead(marketer, parent_contact_id=person["id"])
        for _ in range(index):
            interact(
                marketer,
                {"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": person["id"]},
            )
    model = live(
        marketer,
        {
            "rules": [OPENS],
            "sales_ready_score": 100,
            "grades": [{"name": "A", "min": 10}, {"name": "B", "max": 10}],
        },
    )
    report = marketer.post(
        f"/api/scoring-models/{model['id']}/what-if", json={"sales_ready_score": 10}
    ).json()
    assert report["scored"] == 4
    assert report["would_become_sales_ready"] == 2
    assert report["would_change_grade"] == 0
    candidate = {
        "rules": [{**OPENS, "points": 1}],
        "grades": [{"name": "A", "min": 10}, {"name": "B", "max": 10}],
    }
    report = marketer.post(
        f"/api/scoring-models/{model['id']}/what-if", json={"definition": candidate}
    ).json()
    assert report["would_change_grade"] == 2
    assert marketer.get(f"/api/scoring-models/{model['id']}/insights").json()["sales_ready"] == 0


def test_account_models_gather_the_interactions_of_all_contacts(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, {"entity": "account", "rules": [OPENS]}, name="accounts")
    account = marketer.post("/api/accounts", json={"name": "Acme"}).json()
    people = [contact(marketer, email=f"a{i}@x.io", account_id=account["id"]) for i in range(3)]
    interact(
        marketer,
        *[
            {"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": p["id"]}
            for p in people
        ],
    )
    found = {s["model"]: s for s in marketer.get(f"/api/accounts/{account['id']}/scores").json()}
    assert found["accounts"]["score"] == 15.0


def _evaluate_all(client: TestClient) -> None:  # type: ignore[type-arg]
    started = client.post("/api/evaluations")
    assert started.status_code == 202, started.text
    wait(client, started.json()["id"])


def test_an_account_based_lead_scores_from_the_contacts_of_its_account(
    marketer: TestClient,  # type: ignore[type-arg]
) -> None:
    live(marketer, {"rules": [OPENS]})
    acme = marketer.post("/api/accounts", json={"name": "Acme"}).json()
    ana, bo = (contact(marketer, email=f"{n}@acme.io", account_id=acme["id"]) for n in "ab")
    outsider = contact(marketer, email="c@other.io")
    account_lead = lead(marketer, parent_account_id=acme["id"])
    anas_lead = lead(marketer, parent_contact_id=ana["id"])
    opened = [ana, bo, bo, outsider]
    interact(
        marketer,
        *[
            {"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": p["id"]}
            for p in opened
        ],
    )
    # At once (incremental), and the same after a full evaluation.
    for _ in range(2):
        assert score(marketer, account_lead["id"]) == 15.0
        assert score(marketer, anas_lead["id"]) == 5.0
        _evaluate_all(marketer)
    explained = scores(marketer, account_lead["id"])["engagement"]["contributions"][0]
    assert explained["occurrences"] == 3


def test_a_contact_moving_to_another_account_takes_its_behaviour_along(
    marketer: TestClient,  # type: ignore[type-arg]
) -> None:
    live(marketer, {"rules": [OPENS]})
    first, second = (marketer.post("/api/accounts", json={"name": n}).json() for n in "AB")
    person = contact(marketer, email="m@x.io", account_id=first["id"])
    leads = [lead(marketer, parent_account_id=a["id"])["id"] for a in (first, second)]
    interact(
        marketer, {"kind": "email_open", "occurred_at": ago(hours=1), "contact_id": person["id"]}
    )
    assert [score(marketer, x) for x in leads] == [5.0, 0.0]
    moved = marketer.patch(
        f"/api/contacts/{person['id']}",
        json={"account_id": second["id"]},
        headers={"If-Match": f'"{person["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    assert [score(marketer, x) for x in leads] == [0.0, 5.0]
    _evaluate_all(marketer)
    assert [score(marketer, x) for x in leads] == [0.0, 5.0]


def test_a_full_evaluation_runs_in_the_background_and_reports(marketer: TestClient) -> None:  # type: ignore[type-arg]
    live(marketer, {"rules": [OPENS]})
    for _ in range(3):
        lead(marketer)
    started = marketer.post("/api/evaluations")
    assert started.status_code == 202
    assert started.headers["location"] == f"/api/evaluations/{started.json()['id']}"
    run = wait(marketer, started.json()["id"])
    assert (run["total"], run["done"], run["changed"], run["outcomes"]) == (3, 3, 0, 0)
    assert marketer.get("/api/evaluations/999").status_code == 404
