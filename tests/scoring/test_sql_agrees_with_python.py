"""The set-based evaluator (SQL) and the one-lead evaluator (Python) give the same scores,
grades and sales-ready marks, for any model, records and interactions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert
from sqlmodel import select

from api.storage.db import Database
from leads.models import Account, Contact, Interaction, Lead
from leads.types import epoch
from scoring.definition import ScoringDefinition
from scoring.explain import Occurrence, evaluate
from scoring.sql import CompiledModel, Compiler

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
TEXTS = ["Retail", "retail", "RETAIL ", "", "Über", "über", "ÜBER lead"]
KINDS = ["email_open", "page_visit"]
TARGETS = ["/pricing", "/pricing/plans", "/blog", "nl-1", None]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-50, 500),
    st.floats(-50, 500, allow_nan=False).map(lambda f: round(f, 2)),
    st.sampled_from(TEXTS),
)
wanted = st.one_of(
    st.booleans(), st.integers(-50, 500), st.sampled_from(["retail", "Über", "über", "lead"])
)
FIELDS = [
    "lead.topic",
    "lead.sales_ready",
    "lead.x",
    "contact.job_title",
    "contact.consent_level",
    "account.industry",
    "account.employees",
]


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(
        st.sampled_from(
            [
                "equals",
                "not_equals",
                "in",
                "contains",
                "starts_with",
                "greater",
                "less",
                "between",
                "is_empty",
                "is_set",
            ]
        )
    )
    condition: dict[str, Any] = {"field": draw(st.sampled_from(FIELDS)), "op": op}
    if op in ("equals", "not_equals"):
        condition["value"] = draw(wanted)
    elif op == "in":
        condition["value"] = draw(st.lists(wanted, min_size=1, max_size=3))
    elif op in ("contains", "starts_with"):
        condition["value"] = draw(st.sampled_from(["ret", "RET", "Üb", "üb", "lead", "x"]))
    elif op in ("greater", "less"):
        condition["value"] = draw(st.integers(-10, 300))
    elif op == "between":
        low = draw(st.integers(-10, 300))
        condition["value"] = [low, low + draw(st.integers(0, 200))]
    return condition


tests = st.recursive(
    conditions(),
    lambda inner: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=4,
)
points = st.sampled_from([1, 2.5, 5, 10, -3, -7.25, 0.33, 12.345])


@st.composite
def behaviour_rules(draw: st.DrawFn, name: str) -> dict[str, Any]:
    count = draw(st.sampled_from(["each", "at_least", "none"]))
    rule: dict[str, Any] = {
        "type": "behaviour",
        "name": name,
        "kind": draw(st.sampled_from(KINDS)),
        "count": count,
        "points": draw(points),
    }
    if draw(st.booleans()):
        rule["target"] = draw(
            st.sampled_from(
                [{"equals": "/pricing"}, {"starts_with": "/pricing"}, {"equals": "nl-1"}]
            )
        )
    if draw(st.booleans()):
        rule["properties"] = {"campaign": draw(st.sampled_from(["spring", "Spring", "fall"]))}
    if draw(st.booleans()):
        rule["window_days"] = draw(st.integers(1, 60))
    if count == "at_least":
        rule["times"] = draw(st.integers(1, 3))
    if count == "each":
        if draw(st.booleans()):
            rule["half_life_days"] = draw(st.sampled_from([0.5, 3, 7.5, 30]))
        if draw(st.booleans()):
            rule["cap"] = (
                abs(rule["points"]) * draw(st.integers(1, 4)) * (1 if rule["points"] > 0 else -1)
            )
    return rule


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    for index in range(draw(st.integers(0, 2))):
        rules.append(
            {"type": "attribute", "name": f"a{index}", "when": draw(tests), "points": draw(points)}
        )
    for index in range(draw(st.integers(1, 3))):
        rules.append(draw(behaviour_rules(f"b{index}")))
    definition: dict[str, Any] = {
        "rules": rules,
        "grades": [
            {"name": "A", "min": 20},
            {"name": "B", "min": 5, "max": 20},
            {"name": "C", "max": 5},
        ],
        "sales_ready_score": draw(st.sampled_from([None, 10, 15.5])),
    }
    if draw(st.booleans()):
        definition["audience"] = draw(tests)
    if draw(st.booleans()):
        definition["min_consent"] = draw(st.sampled_from(["transactional", "marketing"]))
    return definition


attributes = st.dictionaries(st.sampled_from(["x"]), values, max_size=1)


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "account": {
            "industry": draw(st.sampled_from([None, *TEXTS])),
            "employees": draw(st.one_of(st.none(), st.integers(0, 400))),
            "attributes": draw(attributes),
        },
        "contact": {
            "job_title": draw(st.sampled_from([None, *TEXTS])),
            "consent_level": draw(
                st.sampled_from(["none", "transactional", "marketing", "profiling"])
            ),
            "attributes": draw(attributes),
        },
        "leads": [
            {
                "topic": draw(st.sampled_from(TEXTS[:5])) or "t",
                "sales_ready": draw(st.booleans()),
                "attributes": draw(attributes),
                "has_contact": draw(st.sampled_from([True, True, True, False])),
            }
            for _ in range(draw(st.integers(1, 3)))
        ],
        "interactions": [
            {
                "kind": draw(st.sampled_from(KINDS)),
                "target": draw(st.sampled_from(TARGETS)),
                "campaign": draw(st.sampled_from([None, "spring", "SPRING", "fall"])),
                "age": draw(st.integers(-200, 90 * 86400)),
                "lead": draw(st.sampled_from([None, None, 0, 1])),
            }
            for _ in range(draw(st.integers(1, 8)))
        ],
    }


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _store(db: Database, world: dict[str, Any]) -> list[int]:
    with db.write() as session:
        for table in (Interaction, Lead, Contact, Account):
            session.execute(delete(table))
        account = Account(name="Acme", **world["account"])
        session.add(account)
        session.flush()
        contact = Contact(account_id=account.id, **world["contact"])
        session.add(contact)
        session.flush()
        leads = []
        for spec in world["leads"]:
            lead = Lead(
                topic=spec["topic"],
                sales_ready=spec["sales_ready"],
                attributes=spec["attributes"],
                parent_contact_id=contact.id if spec["has_contact"] else None,
                process="p",
                stage="s",
            )
            session.add(lead)
            session.flush()
            leads.append(lead.id)
        rows = []
        for spec in world["interactions"]:
            lead_id = (
                leads[spec["lead"]]
                if spec["lead"] is not None and spec["lead"] < len(leads)
                else None
            )
            occurred = NOW - dt.timedelta(seconds=spec["age"])
            rows.append(
                {
                    "kind": spec["kind"],
                    "target": spec["target"],
                    "properties": {"campaign": spec["campaign"]} if spec["campaign"] else {},
                    "occurred_at": occurred,
                    "occurred_epoch": epoch(occurred),
                    "contact_id": contact.id,
                    "lead_id": lead_id,
                }
            )
        if rows:
            session.execute(insert(Interaction), rows)
    return leads


def _python(db: Database, definition: ScoringDefinition, lead_id: int) -> tuple[Any, ...] | None:
    with db.read() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        contact = session.get(Contact, lead.parent_contact_id) if lead.parent_contact_id else None
        account = (
            session.get(Account, contact.account_id) if contact and contact.account_id else None
        )
        found = session.exec(select(Interaction)).all()
        credited = [
            Occurrence(i.id, i.kind, i.occurred_epoch, i.target, i.properties)  # type: ignore[arg-type]
            for i in found
            if i.lead_id == lead_id
            or (i.lead_id is None and i.contact_id == lead.parent_contact_id)
        ]
        records = {
            "lead": lead.model_dump(),
            "contact": contact.model_dump() if contact else None,
            "account": account.model_dump() if account else None,
        }
    result = evaluate(definition, records, credited, epoch(NOW))
    if not result.scored:
        return None
    return (result.score, result.grade, result.reached)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(definition=definitions(), world=worlds())
def test_sql_and_python_agree(
    db: Database, definition: dict[str, Any], world: dict[str, Any]
) -> None:
    model = ScoringDefinition.model_validate(definition)
    leads = _store(db, world)
    compiler = Compiler(db.engine.dialect.name, [CompiledModel(7, model)], epoch(NOW))
    with db.read() as session:
        rows = session.execute(compiler.leads()).all()
    by_sql = {entity: (score, grade, bool(reached)) for _, entity, score, grade, reached in rows}
    for lead_id in leads:
        assert by_sql.get(lead_id) == _python(db, model, lead_id), (lead_id, definition)
