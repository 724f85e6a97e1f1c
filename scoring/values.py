"""The meaning of a condition, one field at a time. The SQL compiler (scoring.sql) gives the
same answers; tests/scoring hold the two together."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scoring.definition import Condition, Group, Op, Test

# The record columns a condition may read; any other name is a custom attribute.
COLUMNS: dict[str, dict[str, str]] = {
    "lead": {
        "topic": "text",
        "email": "text",
        "context_kind": "text",
        "context_id": "text",
        "status": "text",
        "status_reason": "text",
        "sales_ready": "boolean",
        "owner": "text",
        "process": "text",
        "stage": "text",
    },
    "contact": {
        "email": "text",
        "first_name": "text",
        "last_name": "text",
        "job_title": "text",
        "company": "text",
        "phone": "text",
        "country": "text",
        "industry": "text",
        "consent_level": "text",
    },
    "account": {
        "name": "text",
        "industry": "text",
        "employees": "number",
        "revenue": "number",
        "country": "text",
    },
}

CONSENT_RANK = {"none": 0, "transactional": 1, "subscriptions": 2, "marketing": 3, "profiling": 4}

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """Text as compared: ASCII letters lower-cased, everything else as it is."""
    return text.translate(_ASCII_LOWER)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def equals(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool):
        return value is wanted
    if isinstance(wanted, str):
        return isinstance(value, str) and fold(value) == fold(wanted)
    return is_number(value) and value == wanted


def holds(condition: Condition, value: Any) -> bool:
    wanted = condition.value
    match condition.op:
        case Op.EQUALS:
            return equals(value, wanted)
        case Op.NOT_EQUALS:
            return not equals(value, wanted)
        case Op.IN:
            assert isinstance(wanted, list)
            return any(equals(value, w) for w in wanted)
        case Op.CONTAINS:
            return isinstance(value, str) and fold(str(wanted)) in fold(value)
        case Op.STARTS_WITH:
            return isinstance(value, str) and fold(value).startswith(fold(str(wanted)))
        case Op.GREATER:
            return is_number(value) and value > wanted
        case Op.LESS:
            return is_number(value) and value < wanted
        case Op.BETWEEN:
            assert isinstance(wanted, list)
            return is_number(value) and wanted[0] <= value <= wanted[1]
        case Op.IS_EMPTY:
            return value is None or value == ""
        case Op.IS_SET:
            return not (value is None or value == "")


Records = Mapping[str, Mapping[str, Any] | None]


def read(records: Records, path: str) -> Any:
    """The value at `lead.x`, `contact.x` or `account.x`: a column, else a custom attribute."""
    entity, _, name = path.partition(".")
    record = records.get(entity)
    if record is None:
        return None
    if name in COLUMNS[entity]:
        return record.get(name)
    attributes = record.get("attributes") or {}
    return attributes.get(name)


def test(records: Records, check: Test) -> bool:
    if isinstance(check, Condition):
        return holds(check, read(records, check.field))
    assert isinstance(check, Group)
    results = (test(records, member) for member in check.members)
    return all(results) if check.all is not None else any(results)


def cents(points: float) -> int:
    """Points rounded to hundredths, half away from zero, as a whole number of cents."""
    whole = int(abs(points) * 100 + 0.5)
    return whole if points >= 0 else -whole


LN2 = 0.6931471805599453
MICRO = 1_000_000


def decay_micros(age_seconds: int, half_life_days: float) -> int:
    """An occurrence's weight after `age_seconds`, in millionths, halving every half-life."""
    half_life = half_life_days * 86400
    return int(MICRO * math.exp(-LN2 * max(age_seconds, 0) / half_life) + 0.5)
