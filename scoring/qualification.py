"""Qualification criteria: when a lead is ready for sales, as AND and OR of tests on the scores
of live scoring models (a score at or above N, or a grade among some).

Criteria are JSON: a test `{"model": "engagement", "score_at_least": 50}` or
`{"model": "fit", "grade_in": ["A", "B"]}`, or a group `{"all": [...]}` / `{"any": [...]}` of
tests and groups. `parse` checks the shape and names every problem by its path
(`criteria.any[1].model`); `check_models` checks the models named against the models there
are; `condition` compiles criteria to SQL over `lead_score`; `holds` evaluates them in Python.
A test of a model that is not live does not hold, in both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_

from bpf.validation import suggest
from scoring.definition import LARGEST, MAX_DEPTH, as_float, in_range
from scoring.tables import LeadScore, ModelStatus

MAX_TESTS = 40
MAX_GRADES = 20
ROOT = "criteria"


@dataclass(frozen=True)
class ScoreTest:
    path: str
    model: str
    at_least: float  # as written (an int may pass a float's range): SQL reads it as_float


@dataclass(frozen=True)
class GradeTest:
    path: str
    model: str
    grades: tuple[str, ...]


@dataclass(frozen=True)
class Group:
    path: str
    kind: str  # "all" or "any"
    members: tuple[Criteria, ...]


Criteria = ScoreTest | GradeTest | Group
Test = ScoreTest | GradeTest

SHAPE = (
    "a test {model, score_at_least} or {model, grade_in}, or a group {all: [...]} or {any: [...]}"
)


class CriteriaError(ValueError):
    """The criteria are not well formed; `errors` names each problem by its path."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in errors))
        self.errors = errors


def json_schema() -> dict[str, Any]:
    """The criteria `parse` reads, as JSON Schema (the count of tests aside), groups unrolled
    to the depth they may nest."""
    model = {"type": "string", "minLength": 1, "maxLength": 100}
    tests: list[dict[str, Any]] = [
        {
            "type": "object",
            "required": ["model", "score_at_least"],
            "properties": {
                "model": model,
                "score_at_least": {"type": "number", "minimum": -LARGEST, "maximum": LARGEST},
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["model", "grade_in"],
            "properties": {
                "model": model,
                "grade_in": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1, "maxLength": 40},
                    "minItems": 1,
                    "maxItems": MAX_GRADES,
                    "uniqueItems": True,
                },
            },
            "additionalProperties": False,
        },
    ]
    member: dict[str, Any] = {"anyOf": tests}
    for _ in range(MAX_DEPTH):
        member = {
            "anyOf": [
                *tests,
                *(
                    {
                        "type": "object",
                        "required": [kind],
                        "properties": {kind: {"type": "array", "items": member, "minItems": 1}},
                        "additionalProperties": False,
                    }
                    for kind in ("all", "any")
                ),
            ]
        }
    return member


# -- parsing --------------------------------------------------------------------------------


def parse(raw: Any, path: str = ROOT) -> Criteria:
    """The criteria, or CriteriaError naming every problem."""
    errors: list[tuple[str, str]] = []
    criteria = _parse(raw, path, 0, errors)
    if criteria is not None and not errors:
        count = len(tests(criteria))
        if count > MAX_TESTS:
            errors.append((path, f"at most {MAX_TESTS} tests; these criteria have {count}"))
    if errors or criteria is None:
        raise CriteriaError(errors)
    return criteria


def out_of_range(criteria: Criteria) -> list[tuple[str, str]]:
    """The thresholds beyond what criteria may hold, by path: new criteria refuse them
    (stored ones are read as they are)."""
    return [
        (f"{test.path}.score_at_least", f"a number from -{LARGEST} to {LARGEST}")
        for test in tests(criteria)
        if isinstance(test, ScoreTest) and not in_range(test.at_least)
    ]


def _parse(raw: Any, path: str, depth: int, errors: list[tuple[str, str]]) -> Criteria | None:
    if not isinstance(raw, dict):
        errors.append((path, f"expected {SHAPE}"))
        return None
    kinds = [k for k in ("all", "any") if k in raw]
    if kinds:
        return _group(raw, path, depth, kinds, errors)
    if "model" in raw:
        return _test(raw, path, errors)
    errors.append((path, f"expected {SHAPE}"))
    return None


def _group(
    raw: dict[str, Any], path: str, depth: int, kinds: list[str], errors: list[tuple[str, str]]
) -> Group | None:
    if len(kinds) > 1 or len(raw) > 1:
        extra = sorted(k for k in raw if k != kinds[0])
        errors.append(
            (path, f"a group has one key, 'all' or 'any'; found also: {', '.join(extra)}")
        )
        return None
    kind = kinds[0]
    here = f"{path}.{kind}"
    if depth + 1 > MAX_DEPTH:
        errors.append((path, f"groups nest at most {MAX_DEPTH} deep"))
        return None
    members = raw[kind]
    if not isinstance(members, list) or not members:
        errors.append((here, "a non-empty list of tests and groups"))
        return None
    parsed = [_parse(m, f"{here}[{i}]", depth + 1, errors) for i, m in enumerate(members)]
    if any(m is None for m in parsed):
        return None
    return Group(path, kind, tuple(m for m in parsed if m is not None))


def _test(raw: dict[str, Any], path: str, errors: list[tuple[str, str]]) -> Test | None:
    before = len(errors)
    for key in sorted(set(raw) - {"model", "score_at_least", "grade_in"}):
        errors.append(
            (f"{path}.{key}", "unknown key; a test has model and score_at_least or grade_in")
        )
    model = raw["model"]
    if not isinstance(model, str) or not 1 <= len(model) <= 100:
        errors.append((f"{path}.model", "the name of a scoring model (1 to 100 characters)"))
    given = [k for k in ("score_at_least", "grade_in") if k in raw]
    if len(given) != 1:
        errors.append((path, "a test has exactly one of score_at_least or grade_in"))
        return None
    if given[0] == "score_at_least":
        score = raw["score_at_least"]
        if (
            isinstance(score, bool)
            or not isinstance(score, int | float)
            or (isinstance(score, float) and not math.isfinite(score))
        ):
            errors.append((f"{path}.score_at_least", "a number"))
        if len(errors) > before:
            return None
        return ScoreTest(path, model, score)
    grades = raw["grade_in"]
    where = f"{path}.grade_in"
    if not isinstance(grades, list) or not 1 <= len(grades) <= MAX_GRADES:
        errors.append((where, f"a list of 1 to {MAX_GRADES} grade names"))
    else:
        for i, grade in enumerate(grades):
            if not isinstance(grade, str) or not 1 <= len(grade) <= 40:
                errors.append((f"{where}[{i}]", "a grade name (1 to 40 characters)"))
            elif grades.index(grade) != i:
                errors.append((f"{where}[{i}]", f"'{grade}' is named twice"))
    if len(errors) > before:
        return None
    return GradeTest(path, model, tuple(grades))


def to_json(criteria: Criteria) -> dict[str, Any]:
    """The criteria as stored and shown."""
    if isinstance(criteria, Group):
        return {criteria.kind: [to_json(m) for m in criteria.members]}
    if isinstance(criteria, ScoreTest):
        return {"model": criteria.model, "score_at_least": criteria.at_least}
    return {"model": criteria.model, "grade_in": list(criteria.grades)}


def tests(criteria: Criteria) -> list[Test]:
    if isinstance(criteria, Group):
        return [t for m in criteria.members for t in tests(m)]
    return [criteria]


def depth(criteria: Criteria) -> int:
    """How many groups deep the criteria nest."""
    if isinstance(criteria, Group):
        return 1 + max(depth(m) for m in criteria.members)
    return 0


# -- the models named -----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What criteria need to know of a scoring model."""

    id: int
    name: str
    status: str
    entity: str
    grades: tuple[str, ...]


def check_models(criteria: Criteria, models: Mapping[str, ModelInfo]) -> list[tuple[str, str]]:
    """Every test naming a model that is unknown, not live, not a lead model, or without the
    grade named; empty when every test can hold."""
    problems: list[tuple[str, str]] = []
    for test in tests(criteria):
        where = f"{test.path}.model"
        model = models.get(test.model)
        if model is None:
            hint = suggest(test.model, models)
            problems.append(
                (where, f"there is no scoring model '{test.model}'" + (f"; {hint}" if hint else ""))
            )
            continue
        if model.status != ModelStatus.LIVE.value:
            problems.append(
                (
                    where,
                    f"scoring model '{test.model}' is {model.status}; criteria read live "
                    "models only",
                )
            )
            continue
        if model.entity != "lead":
            problems.append(
                (where, f"scoring model '{test.model}' scores accounts; criteria read lead scores")
            )
            continue
        if isinstance(test, GradeTest):
            for i, grade in enumerate(test.grades):
                if grade not in model.grades:
                    known = ", ".join(model.grades) or "none"
                    problems.append(
                        (
                            f"{test.path}.grade_in[{i}]",
                            f"scoring model '{test.model}' has no grade '{grade}' (its grades: "
                            f"{known})",
                        )
                    )
    return problems


# -- meaning --------------------------------------------------------------------------------


def holds(criteria: Criteria, scores: Mapping[str, tuple[float, str | None]]) -> bool:
    """Whether the criteria hold for a lead whose current scores (of live models, by model
    name) are `scores`: score and grade."""
    if isinstance(criteria, Group):
        results = (holds(m, scores) for m in criteria.members)
        return all(results) if criteria.kind == "all" else any(results)
    found = scores.get(criteria.model)
    if found is None:
        return False
    score, grade = found
    if isinstance(criteria, ScoreTest):
        return score >= criteria.at_least
    return grade is not None and grade in criteria.grades


def condition(
    criteria: Criteria, live: Mapping[str, int], lead_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    """The criteria in SQL, for the lead whose id is `lead_id`; `live` maps the names of the
    live models to their ids. A test of any other model is false."""
    if isinstance(criteria, Group):
        members = [condition(m, live, lead_id) for m in criteria.members]
        return and_(*members) if criteria.kind == "all" else or_(*members)
    model_id = live.get(criteria.model)
    if model_id is None:
        return false()
    score = LeadScore.__table__  # type: ignore[attr-defined]
    test = (
        score.c.score >= as_float(criteria.at_least)
        if isinstance(criteria, ScoreTest)
        else score.c.grade.in_(criteria.grades)
    )
    return exists().where(
        score.c.lead_id == lead_id,
        score.c.model_id == model_id,
        score.c.stale.is_(False),
        test,
    )
