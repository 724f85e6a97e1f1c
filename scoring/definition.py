"""What a scoring model says: its audience, its rules, its grades and its sales-ready score.

Conditions read fields as `lead.<name>`, `contact.<name>` or `account.<name>`: a column of
that record if it has one by that name, else one of its custom attributes.
"""

from __future__ import annotations

import itertools
import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

MAX_RULES = 40
MAX_DEPTH = 5
# A model compiles to one SQL expression per rule and one bound value per compared value:
# these keep it within what SQLite (expression depth 1000, 32,766 variables) and PostgreSQL take.
MAX_CONDITIONS = 100
MAX_VALUES = 200
MAX_GRADES = 20
# The numbers a model, a qualification or an assignment rule compares with: within them a
# float holds every integer exactly (and an integer past them stays past them as a float), and
# SQL compares them as floats on both databases. Stored definitions are read as they are
# (api.services checks new ones), so the evaluator converts with `as_float`.
LARGEST = 2**53 - 1
SHORTEST_HALF_LIFE_DAYS = 0.001

Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
FieldPath = Annotated[
    str,
    StringConstraints(pattern=r"^(lead|contact|account)\.[A-Za-z_][A-Za-z0-9_]*$", max_length=100),
]
_BOUNDS = {"minimum": -LARGEST, "maximum": LARGEST}
Scalar = (
    Annotated[str, StringConstraints(max_length=1000)]
    | Annotated[int, WithJsonSchema({"type": "integer", **_BOUNDS})]
    | Annotated[float, WithJsonSchema({"type": "number", **_BOUNDS})]
    | bool
)
Points = Annotated[float, Field(ge=-10_000, le=10_000, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Op(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    GREATER = "greater"
    LESS = "less"
    BETWEEN = "between"
    IS_EMPTY = "is_empty"
    IS_SET = "is_set"


TEXT_OPS = (Op.CONTAINS, Op.STARTS_WITH)
NUMBER_OPS = (Op.GREATER, Op.LESS, Op.BETWEEN)
NO_VALUE_OPS = (Op.IS_EMPTY, Op.IS_SET)


def _ops(ops: tuple[Op, ...], value: dict[str, Any] | None) -> dict[str, Any]:
    """A JSON Schema branch: with these operators, a value of this schema (None: no value)."""
    branch: dict[str, Any] = {"properties": {"op": {"enum": [op.value for op in ops]}}}
    if value is None:
        branch["properties"]["value"] = {"type": "null"}
    else:
        branch["required"] = ["value"]
        branch["properties"]["value"] = value
    return branch


_NUMBER = {"type": "number", **_BOUNDS}


class Condition(_Strict):
    """One test of one field. Text compares ignoring ASCII case; greater, less and between
    hold only for numbers; not_equals holds where equals does not (an empty field too)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                _ops(NO_VALUE_OPS, None),
                _ops((Op.IN,), {"type": "array", "minItems": 1}),
                _ops(
                    (Op.BETWEEN,),
                    {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2},
                ),
                _ops((Op.GREATER, Op.LESS), _NUMBER),
                _ops(TEXT_OPS, {"type": "string", "minLength": 1}),
                _ops((Op.EQUALS, Op.NOT_EQUALS), {"not": {"type": ["array", "null"]}}),
            ]
        }
    )

    field: FieldPath
    op: Op
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> Condition:
        value = self.value
        if self.op in NO_VALUE_OPS:
            if value is not None:
                raise ValueError(f"'{self.op.value}' takes no value")
        elif self.op is Op.IN:
            if not isinstance(value, list) or not value:
                raise ValueError("'in' takes a non-empty list of values")
        elif self.op is Op.BETWEEN:
            if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
                raise ValueError("'between' takes [low, high], two numbers")
            value.sort()  # [high, low] is the same range
        elif self.op in NUMBER_OPS:
            if not _is_number(value):
                raise ValueError(f"'{self.op.value}' takes a number")
        elif self.op in TEXT_OPS:
            if not isinstance(value, str) or not value:
                raise ValueError(f"'{self.op.value}' takes non-empty text")
        elif value is None or isinstance(value, list):
            raise ValueError(f"'{self.op.value}' takes one value")
        return self


class Group(_Strict):
    """All of the conditions hold, or any of them."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "required": [kind],
                    "properties": {kind: {"type": "array", "minItems": 1}, other: {"type": "null"}},
                }
                for kind, other in (("all", "any"), ("any", "all"))
            ]
        }
    )

    all: list[Condition | Group] | None = None
    any: list[Condition | Group] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Group:
        if (self.all is None) == (self.any is None):
            raise ValueError("a group has exactly one of 'all' or 'any'")
        if not (self.all or self.any):
            raise ValueError("a group holds at least one condition")
        return self

    @property
    def members(self) -> list[Condition | Group]:
        return list(self.all if self.all is not None else self.any or [])


Test = Condition | Group


def _rule(schema: dict[str, Any]) -> None:
    """A rule's `type` chooses its kind, so a body gives it (the default serves the service's
    own code)."""
    schema["required"] = ["type", *schema.get("required", [])]


class AttributeRule(_Strict):
    """Points while a condition on the lead, its contact or its account holds."""

    model_config = ConfigDict(json_schema_extra=_rule)

    type: Literal["attribute"] = "attribute"
    name: Name
    when: Test
    points: Points


class Count(StrEnum):
    EACH = "each"  # points per occurrence, optionally capped
    AT_LEAST = "at_least"  # points once when at least `times` occurred
    NONE = "none"  # points when none occurred: a penalty, or a bonus


class TargetFilter(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "required": [given],
                    "properties": {given: {"type": "string"}, other: {"type": "null"}},
                }
                for given, other in (("equals", "starts_with"), ("starts_with", "equals"))
            ]
        }
    )

    equals: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    starts_with: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None

    @model_validator(mode="after")
    def _one(self) -> TargetFilter:
        if (self.equals is None) == (self.starts_with is None):
            raise ValueError("a target filter has exactly one of 'equals' or 'starts_with'")
        return self


# Which of times, cap and half_life_days each count takes.
_COUNTS = [
    {
        "properties": {
            "count": {"const": Count.EACH.value},
            "times": {"type": "null"},
            "cap": {"not": {"const": 0}},
        }
    },
    {
        "required": ["count", "times"],
        "properties": {
            "count": {"const": Count.AT_LEAST.value},
            "times": {"type": "integer"},
            "cap": {"type": "null"},
            "half_life_days": {"type": "null"},
        },
    },
    {
        "required": ["count"],
        "properties": {
            "count": {"const": Count.NONE.value},
            "times": {"type": "null"},
            "cap": {"type": "null"},
            "half_life_days": {"type": "null"},
        },
    },
]


def _behaviour_rule(schema: dict[str, Any]) -> None:
    _rule(schema)
    schema["anyOf"] = _COUNTS


class BehaviourRule(_Strict):
    """Points for interactions of a kind, optionally of one target and with given properties."""

    model_config = ConfigDict(json_schema_extra=_behaviour_rule)

    type: Literal["behaviour"] = "behaviour"
    name: Name
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    target: TargetFilter | None = Field(
        default=None, description="This email, page, form or event."
    )
    properties: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], Scalar],
        Field(max_length=10),
    ] = Field(default_factory=dict, description="Property values the interaction must have.")
    count: Count = Count.EACH
    times: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=None, description="For at_least: how many."
    )
    cap: Points | None = Field(
        default=None, description="For each: the most the rule gives (or takes), in points."
    )
    window_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        default=None, description="Only interactions of the last N days count."
    )
    half_life_days: Annotated[float, Field(gt=0, le=3650)] | None = Field(
        default=None,
        description="For each: an occurrence's points halve every N days.",
        json_schema_extra={"minimum": SHORTEST_HALF_LIFE_DAYS},
    )
    points: Points

    @model_validator(mode="after")
    def _coherent(self) -> BehaviourRule:
        if self.count is Count.AT_LEAST and self.times is None:
            raise ValueError("'at_least' needs 'times'")
        if self.count is not Count.AT_LEAST and self.times is not None:
            raise ValueError("'times' is for 'at_least' only")
        if self.count is not Count.EACH and (self.cap is not None or self.half_life_days):
            raise ValueError("'cap' and 'half_life_days' are for 'each' only")
        if self.cap is not None and (self.cap == 0 or (self.cap > 0) != (self.points > 0)):
            raise ValueError("'cap' has the sign of 'points' and is not zero")
        return self


Rule = Annotated[AttributeRule | BehaviourRule, Field(discriminator="type")]


class Grade(_Strict):
    """A band of scores: from `min` (included) to `max` (excluded); open where absent."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    min: float | None = Field(default=None, json_schema_extra=_BOUNDS)
    max: float | None = Field(default=None, json_schema_extra=_BOUNDS)


class ScoringDefinition(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"entity": {"const": "lead"}}},
                {
                    "required": ["entity"],
                    "properties": {
                        "entity": {"const": "account"},
                        "min_consent": {"type": "null"},
                        "sales_ready_score": {"type": "null"},
                    },
                },
            ]
        }
    )

    entity: Literal["lead", "account"] = "lead"
    audience: Test | None = Field(
        default=None, description="Only leads (or accounts) that meet it are scored."
    )
    min_consent: Literal["transactional", "subscriptions", "marketing", "profiling"] | None = Field(
        default=None, description="Only leads whose contact consented at least this far."
    )
    rules: Annotated[list[Rule], Field(max_length=MAX_RULES)] = Field(default_factory=list)
    grades: Annotated[list[Grade], Field(max_length=MAX_GRADES)] = Field(default_factory=list)
    sales_ready_score: Points | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ScoringDefinition:
        names = [r.name for r in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names are unique; named twice: {', '.join(twice)}")
        tests = [self.audience, *[r.when for r in self.rules if isinstance(r, AttributeRule)]]
        for test in tests:
            if test is not None and depth(test) > MAX_DEPTH:
                raise ValueError(f"conditions nest at most {MAX_DEPTH} groups deep")
        held = [c for test in tests for c in conditions(test)]
        if len(held) > MAX_CONDITIONS:
            raise ValueError(
                f"a model holds at most {MAX_CONDITIONS} conditions (audience and rules "
                f"together); this one has {len(held)}"
            )
        values = sum(len(c.value) for c in held if isinstance(c.value, list))
        if values > MAX_VALUES:
            raise ValueError(
                f"the lists of values of a model's conditions hold at most {MAX_VALUES} values "
                f"together; this one's hold {values}"
            )
        if self.entity == "account":
            for path in _fields(self):
                if not path.startswith("account."):
                    raise ValueError(f"an account model reads account fields only, not {path}")
            if self.min_consent is not None or self.sales_ready_score is not None:
                raise ValueError("min_consent and sales_ready_score are for lead models")
        check_grades(self.grades)
        return self

    @property
    def fields(self) -> frozenset[str]:
        """The fields the audience and the attribute rules read, as `entity.name`."""
        return frozenset(_fields(self))


def check_grades(grades: list[Grade]) -> None:
    """Grades cover one continuous range without overlap; say where they do not."""
    names = [g.name for g in grades]
    if len(set(names)) != len(names):
        raise ValueError("grade names are unique")
    for grade in grades:
        if grade.min is not None and grade.max is not None and grade.min >= grade.max:
            raise ValueError(
                f"grade '{grade.name}' is empty: min {grade.min:g} >= max {grade.max:g}"
            )
    ordered = sorted(grades, key=lambda g: float("-inf") if g.min is None else g.min)
    for low, high in itertools.pairwise(ordered):
        top = float("inf") if low.max is None else low.max
        bottom = float("-inf") if high.min is None else high.min
        if top < bottom:
            raise ValueError(
                f"grades '{low.name}' and '{high.name}' leave a gap: no grade from {top:g} to "
                f"{bottom:g}"
            )
        if top > bottom:
            end = top if high.max is None else min(top, high.max)
            raise ValueError(
                f"grades '{low.name}' and '{high.name}' overlap from {bottom:g} to {end:g}"
            )


def as_float(number: float) -> float:
    """A number as SQL compares it: an integer beyond a float's range is infinite."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def in_range(number: float) -> bool:
    return -LARGEST <= number <= LARGEST


_OUT_OF_RANGE = f"a number from -{LARGEST} to {LARGEST}"


def out_of_range(definition: ScoringDefinition, path: str) -> list[tuple[str, str]]:
    """The numbers of the definition beyond what a model may hold, by path: a new model,
    an edit, a what-if and going live refuse them (stored ones are read as they are)."""
    found: list[tuple[str, str]] = []
    if definition.audience is not None:
        found += conditions_out_of_range(definition.audience, f"{path}.audience")
    for index, rule in enumerate(definition.rules):
        here = f"{path}.rules[{index}]"
        if isinstance(rule, AttributeRule):
            found += conditions_out_of_range(rule.when, f"{here}.when")
            continue
        found += [
            (f"{here}.properties.{key}", _OUT_OF_RANGE)
            for key, value in rule.properties.items()
            if _is_number(value) and not in_range(value)
        ]
        if rule.half_life_days is not None and rule.half_life_days < SHORTEST_HALF_LIFE_DAYS:
            found.append((f"{here}.half_life_days", f"at least {SHORTEST_HALF_LIFE_DAYS}"))
    for index, grade in enumerate(definition.grades):
        for bound in ("min", "max"):
            value = getattr(grade, bound)
            if value is not None and not in_range(value):
                found.append((f"{path}.grades[{index}].{bound}", _OUT_OF_RANGE))
    return found


def conditions_out_of_range(test: Test, path: str) -> list[tuple[str, str]]:
    """The numbers of the conditions beyond what they may hold, by path."""
    if isinstance(test, Group):
        kind = "all" if test.all is not None else "any"
        return [
            problem
            for index, member in enumerate(test.members)
            for problem in conditions_out_of_range(member, f"{path}.{kind}[{index}]")
        ]
    if isinstance(test.value, list):
        return [
            (f"{path}.value[{index}]", _OUT_OF_RANGE)
            for index, value in enumerate(test.value)
            if _is_number(value) and not in_range(value)
        ]
    if _is_number(test.value) and not in_range(test.value):  # type: ignore[arg-type]
        return [(f"{path}.value", _OUT_OF_RANGE)]
    return []


def depth(test: Test) -> int:
    if isinstance(test, Condition):
        return 0
    return 1 + max(depth(m) for m in test.members)


def conditions(test: Test | None) -> list[Condition]:
    if test is None:
        return []
    if isinstance(test, Condition):
        return [test]
    return [c for m in test.members for c in conditions(m)]


def _fields(definition: ScoringDefinition) -> list[str]:
    tests = [definition.audience] + [
        r.when for r in definition.rules if isinstance(r, AttributeRule)
    ]
    return [c.field for t in tests for c in conditions(t)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
