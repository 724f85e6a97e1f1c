"""Time-based automations of stages.yaml: a lead that sat in a stage longer than `after`
fires the trigger, as the scheduler, once."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

import bpf
from api.app import Service
from api.services.keys import Role
from bpf.validation import parse
from leads.models import Lead
from leads.types import utcnow
from tests.conftest import KeyMaker
from tests.jobs.helpers import run_job

STAGES = """\
processes:
  - name: nurture
    default: true
    stages:
      - name: nurturing
      - name: engaged
        steps:
          - field: demo_booked
            type: boolean
      - name: with_sales
    transitions:
      - trigger: back_to_nurturing
        source: engaged
        dest: nurturing
      - trigger: escalate
        source: [nurturing, engaged]
        dest: with_sales
        guards:
          - field: demo_booked
            equals: true
    automations:
      - after: 30d
        stage: engaged
        fire: back_to_nurturing
      - after: 12h
        stage: nurturing
        fire: escalate
        switch: automated_marketing_qualification
"""


@pytest.fixture
def stages_file(tmp_path: Path) -> Path:
    path = tmp_path / "stages.yaml"
    path.write_text(STAGES)
    return path


@pytest.fixture
def admin(auth: KeyMaker) -> dict[str, str]:
    return auth(Role.ADMIN)


def engaged_since(
    client: TestClient, service: Service, headers: dict[str, str], **ago: float
) -> dict[str, Any]:  # type: ignore[type-arg]
    lead = client.post("/api/leads", json={"topic": "t"}, headers=headers).json()
    moved = client.post(
        f"/api/leads/{lead['id']}/stage",
        json={"to": "engaged", "reason": "replied"},
        headers={**headers, "If-Match": f'"{lead["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    set_entered(service, lead["id"], utcnow() - dt.timedelta(**ago))
    return moved.json()  # type: ignore[no-any-return]


def set_entered(service: Service, lead_id: int, when: dt.datetime) -> None:
    with service.db.write() as session:
        session.execute(update(Lead).where(Lead.id == lead_id).values(stage_entered_at=when))  # type: ignore[arg-type]


def test_a_lead_past_the_limit_moves_once_and_a_younger_one_stays(
    app_client: TestClient,
    service: Service,
    admin: dict[str, str],  # type: ignore[type-arg]
) -> None:
    old = engaged_since(app_client, service, admin, days=31)
    young = engaged_since(app_client, service, admin, days=29)
    run = run_job(app_client, "stage_timeouts", admin)
    assert (run["status"], run["processed"]) == ("done", 1), run

    moved = app_client.get(f"/api/leads/{old['id']}", headers=admin).json()
    assert (moved["stage"], moved["version"]) == ("nurturing", old["version"] + 1)
    last = app_client.get(f"/api/leads/{old['id']}/history", headers=admin).json()["items"][-1]
    assert last["trigger"] == "back_to_nurturing"
    assert last["actor"] == "scheduler"
    assert last["reason"] == "in stage 'engaged' for 30d or more"
    assert last["seconds_in_stage"] >= 31 * 86400
    stayed = app_client.get(f"/api/leads/{young['id']}", headers=admin).json()
    assert (stayed["stage"], stayed["version"]) == ("engaged", young["version"])

    again = run_job(app_client, "stage_timeouts", admin)
    assert (again["status"], again["processed"]) == ("done", 0)
    history = app_client.get(f"/api/leads/{old['id']}/history", headers=admin).json()["items"]
    assert [h["trigger"] for h in history].count("back_to_nurturing") == 1
    assert app_client.get(f"/api/leads/{old['id']}", headers=admin).json()["version"] == (
        old["version"] + 1
    )


def test_a_move_by_the_scheduler_is_in_the_lead_audit_log(
    app_client: TestClient,
    service: Service,
    admin: dict[str, str],  # type: ignore[type-arg]
) -> None:
    old = engaged_since(app_client, service, admin, days=31)
    run_job(app_client, "stage_timeouts", admin)
    log = app_client.get(f"/api/leads/{old['id']}/audit", headers=admin).json()["items"]
    assert [(e["field"], e["old"], e["new"], e["actor"]) for e in log] == [
        ("stage", "engaged", "nurturing", "scheduler"),
        ("stage", "nurturing", "engaged", "user"),
    ]


def test_guards_and_switches_hold_for_the_scheduler(
    app_client: TestClient,
    service: Service,
    admin: dict[str, str],  # type: ignore[type-arg]
) -> None:
    ready = app_client.post(
        "/api/leads", json={"topic": "t", "attributes": {"demo_booked": True}}, headers=admin
    ).json()
    waiting = app_client.post("/api/leads", json={"topic": "t"}, headers=admin).json()
    for lead in (ready, waiting):
        set_entered(service, lead["id"], utcnow() - dt.timedelta(hours=13))
    off = app_client.post(
        "/api/scoring-configurations",
        json={"name": "manual", "automated_marketing_qualification": False},
        headers=admin,
    )
    assert off.status_code == 201, off.text
    assert run_job(app_client, "stage_timeouts", admin)["processed"] == 0
    assert app_client.get(f"/api/leads/{ready['id']}", headers=admin).json()["stage"] == "nurturing"

    app_client.post("/api/scoring-configurations", json={"name": "auto"}, headers=admin)
    assert run_job(app_client, "stage_timeouts", admin)["processed"] == 1
    assert (
        app_client.get(f"/api/leads/{ready['id']}", headers=admin).json()["stage"] == "with_sales"
    )
    # The guard refuses the other: it stays, and is no error.
    assert (
        app_client.get(f"/api/leads/{waiting['id']}", headers=admin).json()["stage"] == "nurturing"
    )


def problems(text: str) -> list[str]:
    with pytest.raises(bpf.StagesFileError) as caught:
        parse(textwrap.dedent(text), "stages.yaml")
    return [str(p) for p in caught.value.problems]


def test_timed_automations_are_checked_with_their_lines() -> None:
    catalog = bpf.Catalog(parse(STAGES, "stages.yaml"), "stages.yaml")
    timed = [a for a in catalog.default.definition.automations if a.after]
    assert [a.delay for a in timed] == [dt.timedelta(days=30), dt.timedelta(hours=12)]

    bad = STAGES.replace("after: 30d", "after: 30 days")
    assert problems(bad) == [
        "stages.yaml:22: '30 days' is not a duration (a whole number and a unit: s (seconds), "
        "m (minutes), h (hours), d (days) or w (weeks), e.g. 30m, 12h, 3d, 1w)"
    ]
    assert problems(STAGES.replace("after: 12h", "after: 0h")) == [
        "stages.yaml:25: '0h' is not longer than zero (a whole number and a unit: s (seconds), "
        "m (minutes), h (hours), d (days) or w (weeks), e.g. 30m, 12h, 3d, 1w)"
    ]
    found = problems(STAGES.replace("stage: engaged", "stage: engagd"))
    assert found == [
        "stages.yaml:23: stage 'engagd' is not a stage of process 'nurture' "
        "(did you mean 'engaged'?)"
    ]
    found = problems(
        STAGES.replace(
            "        stage: nurturing\n        fire: escalate",
            "        stage: with_sales\n        fire: escalate",
        )
    )
    assert found == [
        "stages.yaml:27: 'escalate' does not leave stage 'with_sales', so this automation would "
        "never move a lead (no triggers from that stage are declared)"
    ]
    found = problems(
        STAGES.replace("      - after: 30d\n        stage: engaged\n", "      - after: 30d\n")
    )
    assert found == [
        "stages.yaml:22: automation with after names no stage (add stage: <the stage a lead "
        "sits in>)"
    ]
    found = problems(
        STAGES.replace("      - after: 30d\n", "      - when: demo_booked\n        after: 30d\n")
    )
    assert found == [
        "stages.yaml:22: automation has both when and after (an automation waits for an "
        "outcome or for time in a stage, not both)"
    ]
