"""Every operator against every kind of stored value, in SQL and in Python: the same answer."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete

from api.storage.db import Database
from leads.models import Account, Lead
from scoring.definition import Condition, ScoringDefinition
from scoring.sql import CompiledModel, Compiler
from scoring.values import holds

STORED = [
    None,
    "",
    "Retail",
    "retail",
    "RETAIL ",
    "Über",
    "über",
    "ÜBER lead",
    0,
    5,
    5.0,
    12.5,
    -3,
    True,
    False,
]
WANTED = ["retail", "Über", "über", "lead", 5, 0, -3, True, False]
CONDITIONS: list[dict[str, Any]] = (
    [{"op": op, "value": v} for op in ("equals", "not_equals") for v in WANTED]
    + [{"op": "in", "value": ["retail", 5, True]}, {"op": "in", "value": ["über"]}]
    + [
        {"op": op, "value": v}
        for op in ("contains", "starts_with")
        for v in ("RET", "üb", "Üb", "lead")
    ]
    + [{"op": op, "value": v} for op in ("greater", "less") for v in (0, 5, -3)]
    + [{"op": "between", "value": [0, 5]}, {"op": "between", "value": [-3, -3]}]
    + [{"op": "is_empty"}, {"op": "is_set"}]
)
# Where each stored value can live: a JSON attribute takes anything; a column only its type.
FIELDS = {
    "lead.x": lambda v: True,
    "lead.topic": lambda v: isinstance(v, str) and v != "",
    "lead.owner": lambda v: v is None or isinstance(v, str),
    "lead.sales_ready": lambda v: isinstance(v, bool),
    "account.employees": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
    "account.industry": lambda v: v is None or isinstance(v, str),
}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _lead(session: Any, field: str, value: Any) -> tuple[int, dict[str, Any]]:
    entity, _, name = field.partition(".")
    lead_values: dict[str, Any] = {"topic": "t", "process": "p", "stage": "s", "attributes": {}}
    account_values: dict[str, Any] = {"name": "a"}
    target = lead_values if entity == "lead" else account_values
    if name == "x":
        target["attributes"] = {"x": value}
    else:
        target[name] = value
    account = Account(**account_values)
    session.add(account)
    session.flush()
    lead = Lead(parent_account_id=account.id, **lead_values)
    session.add(lead)
    session.flush()
    assert lead.id is not None
    return lead.id, {"lead": lead.model_dump(), "account": account.model_dump(), "contact": None}


@pytest.mark.parametrize("field", list(FIELDS))
def test_every_condition_means_the_same_in_sql_and_python(db: Database, field: str) -> None:
    with db.write() as session:
        session.execute(delete(Lead))
        session.execute(delete(Account))
        leads = {
            lead_id: (value, records)
            for value in STORED
            if FIELDS[field](value)
            for lead_id, records in [_lead(session, field, value)]
        }
    models = [
        CompiledModel(
            index,
            ScoringDefinition.model_validate(
                {
                    "rules": [
                        {
                            "type": "attribute",
                            "name": "r",
                            "when": {"field": field, **c},
                            "points": 1,
                        }
                    ]
                }
            ),
        )
        for index, c in enumerate(CONDITIONS, start=1)
    ]
    compiler = Compiler(db.engine.dialect.name, models, 0)
    with db.read() as session:
        by_sql = {(m, e): score == 1 for m, e, score, _, _ in session.execute(compiler.leads())}
    wrong = []
    for (index, condition), (lead_id, (value, records)) in itertools.product(
        enumerate(CONDITIONS, start=1), leads.items()
    ):
        python = holds(Condition(field=field, **condition), value)
        assert records is not None
        if by_sql[(index, lead_id)] != python:
            wrong.append((condition, value, "python", python))
    assert wrong == []
