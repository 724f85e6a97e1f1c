"""Qualification gives the same results whether leads are qualified as each interaction scores
them (incremental) or all at once by a full evaluation, and both say what the criteria, read
in Python, say of the stored scores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, update
from sqlmodel import select

from api.app import Service, open_service
from api.services.scoring import evaluation as scoring_service
from api.settings import Settings
from bpf import ActorKind
from leads.models import Contact, Interaction, Lead, LeadStatus, StageChange
from leads.types import epoch, utcnow
from scoring import qualification
from scoring.tables import (
    EvaluationRun,
    LeadScore,
    ModelStatus,
    Qualification,
    QualificationStatus,
    ScoringConfiguration,
    ScoringModel,
)

MQ = "marketing_qualified"
GRADES = ["A", "B", "C"]
MODELS = {
    "opens": {
        "rules": [{"type": "behaviour", "name": "o", "kind": "email_open", "points": 10}],
        "grades": [
            {"name": "A", "min": 30},
            {"name": "B", "min": 10, "max": 30},
            {"name": "C", "max": 10},
        ],
    },
    "visits": {
        "rules": [{"type": "behaviour", "name": "v", "kind": "page_visit", "points": 5}],
        "grades": [
            {"name": "A", "min": 20},
            {"name": "B", "min": 5, "max": 20},
            {"name": "C", "max": 5},
        ],
    },
}

score_tests = st.builds(
    lambda model, n: {"model": model, "score_at_least": n},
    st.sampled_from(sorted(MODELS)),
    st.sampled_from([0, 5, 10, 15, 20, 30, 45]),
)
grade_tests = st.builds(
    lambda model, grades: {"model": model, "grade_in": grades},
    st.sampled_from(sorted(MODELS)),
    st.lists(st.sampled_from(GRADES), min_size=1, max_size=3, unique=True),
)


def criteria_of(leaves: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves,
        lambda inner: st.builds(
            lambda kind, members: {kind: members},
            st.sampled_from(["all", "any"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
        max_leaves=6,
    )


actions = st.sampled_from([(True, False), (False, True), (True, True)])
statuses = st.sampled_from(
    [
        ("open", "new"),
        ("open", "new"),
        ("open", "contacted"),
        ("open", MQ),
        ("qualified", "qualified"),
        ("disqualified", "lost"),
    ]
)


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    leaves = draw(st.sampled_from([score_tests, st.one_of(score_tests, grade_tests)]))
    count = draw(st.integers(1, 4))
    return {
        "qualifications": draw(
            st.lists(st.tuples(criteria_of(leaves), actions), min_size=1, max_size=2)
        ),
        "leads": [(draw(statuses), draw(st.booleans())) for _ in range(count)],
        "interactions": draw(
            st.lists(
                st.tuples(st.integers(0, count - 1), st.sampled_from(["email_open", "page_visit"])),
                max_size=10,
            )
        ),
        "automatic_sales_ready": draw(st.booleans()),
    }


@pytest.fixture
def service(settings: Settings) -> Iterator[Service]:
    service = open_service(settings)
    yield service
    service.db.dispose()


def _reset(service: Service) -> None:
    with service.db.write() as session:
        for table in (
            LeadScore,
            EvaluationRun,
            Qualification,
            ScoringModel,
            ScoringConfiguration,
            StageChange,
            Interaction,
            Lead,
            Contact,
        ):
            session.execute(delete(table))


def _evaluate(service: Service, at: dt.datetime) -> EvaluationRun:
    run = scoring_service.new_run(service.db)
    assert run.id is not None
    return scoring_service.evaluate(service.db, service.catalog, run.id, as_of=at)


def _leads(service: Service) -> dict[int, tuple[str, str, bool, str]]:
    with service.db.read() as session:
        return {
            lead.id: (lead.status, lead.status_reason, lead.sales_ready, lead.stage)
            for lead in session.exec(select(Lead))
            if lead.id is not None
        }


def _scores(service: Service) -> dict[int, dict[str, tuple[float, str | None]]]:
    with service.db.read() as session:
        names = {m.id: m.name for m in session.exec(select(ScoringModel))}
        found: dict[int, dict[str, tuple[float, str | None]]] = {}
        for s in session.exec(select(LeadScore).where(LeadScore.stale == False)):  # noqa: E712
            found.setdefault(s.lead_id, {})[names[s.model_id]] = (s.score, s.grade)
    return found


def _monotone(criteria: qualification.Criteria) -> bool:
    """Whether the criteria can only start to hold as scores rise: score tests only."""
    return all(isinstance(t, qualification.ScoreTest) for t in qualification.tests(criteria))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_incremental_and_full_qualification_agree(service: Service, world: dict[str, Any]) -> None:
    _reset(service)
    at = utcnow() + dt.timedelta(hours=1)
    with service.db.write() as session:
        session.add(
            ScoringConfiguration(name="t", automatic_sales_ready=world["automatic_sales_ready"])
        )
        for name, definition in MODELS.items():
            session.add(
                ScoringModel(name=name, status=ModelStatus.LIVE.value, definition=definition)
            )
        published = []
        for index, (raw, (marks, readies)) in enumerate(world["qualifications"]):
            criteria = qualification.parse(raw)
            published.append((criteria, marks, readies))
            session.add(
                Qualification(
                    name=f"q{index}",
                    status=QualificationStatus.PUBLISHED.value,
                    criteria=qualification.to_json(criteria),
                    sets_marketing_qualified=marks,
                    sets_sales_ready=readies,
                )
            )
        contacts, leads = [], []
        for (status, reason), sales_ready in world["leads"]:
            contact = Contact(email=f"p{len(contacts)}@x.io")
            session.add(contact)
            session.flush()
            lead = Lead(
                topic="t",
                parent_contact_id=contact.id,
                status=status,
                status_reason=reason,
                sales_ready=sales_ready,
                process=service.catalog.default.name,
                stage=service.catalog.default.first_stage,
            )
            session.add(lead)
            session.flush()
            contacts.append(contact.id)
            leads.append(lead.id)
    initial = _leads(service)

    # Incremental: everyone is scored and qualified once, then each interaction arrives.
    _evaluate(service, at)
    for index, kind in world["interactions"]:
        occurred = at - dt.timedelta(minutes=5)
        row = {
            "kind": kind,
            "target": None,
            "properties": {},
            "occurred_at": occurred,
            "occurred_epoch": epoch(occurred),
            "contact_id": contacts[index],
            "lead_id": leads[index],
        }
        with service.db.write() as session:
            session.execute(insert(Interaction), [row])
            scoring_service.rescore_interactions(session, service.catalog, [row], now=at)
    incremental = _leads(service)
    scores = _scores(service)

    # A full evaluation now finds nothing to qualify.
    again = _evaluate(service, at)
    assert again.outcomes == 0
    assert _leads(service) == incremental

    # Full: back to before, then one evaluation of everything.
    with service.db.write() as session:
        session.execute(delete(LeadScore))
        session.execute(delete(StageChange).where(StageChange.actor != ActorKind.USER.value))
        for lead_id, (_, reason, sales_ready, stage) in initial.items():
            session.execute(
                update(Lead)
                .where(Lead.id == lead_id)
                .values(status_reason=reason, sales_ready=sales_ready, stage=stage, scored_at=None)
            )
    _evaluate(service, at)
    full = _leads(service)
    assert _scores(service) == scores

    # From scratch, a lead is qualified exactly when the criteria hold on its final scores.
    for lead_id, (status, reason, sales_ready, _) in initial.items():
        now_status, now_reason, now_ready, _ = full[lead_id]
        held = [
            (marks, readies)
            for c, marks, readies in published
            if qualification.holds(c, scores.get(lead_id, {}))
        ]
        is_open = status == LeadStatus.OPEN.value
        expect_reason = MQ if is_open and any(m for m, _ in held) else reason
        expect_ready = sales_ready or (
            is_open and world["automatic_sales_ready"] and any(r for _, r in held)
        )
        assert (now_status, now_reason, now_ready) == (status, expect_reason, expect_ready)
        # Incrementally, a lead qualified on the way stays qualified: never less than full.
        inc_status, inc_reason, inc_ready, _ = incremental[lead_id]
        assert inc_status == status
        assert inc_reason == reason or (is_open and inc_reason == MQ)
        if now_reason == MQ:
            assert inc_reason == MQ
        if now_ready:
            assert inc_ready
        if not is_open:
            assert (inc_reason, inc_ready) == (reason, sales_ready)

    # With score tests only (and scores that only rise), the two paths agree exactly.
    if all(_monotone(c) for c, _, _ in published):
        assert full == incremental
