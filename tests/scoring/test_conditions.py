"""What conditions mean, on the cases where a reasonable person could expect otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from scoring.definition import Condition
from scoring.values import holds


def check(op: str, value: Any, found: Any) -> bool:
    return holds(Condition(field="lead.x", op=op, value=value), found)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("op", "value", "found", "expected"),
    [
        ("equals", "retail", "Retail", True),  # text ignores ASCII case
        ("equals", "über", "Über", False),  # ... and only ASCII case, as SQL does everywhere
        ("equals", "retail", "retail ", False),  # no trimming
        ("equals", 5, 5.0, True),  # numbers compare as numbers
        ("equals", 1, True, False),  # a boolean is not a number
        ("equals", "5", 5, False),  # nor is text
        ("equals", True, True, True),
        ("not_equals", "retail", None, True),  # an empty field is not equal to anything
        ("in", ["a", "B"], "b", True),
        ("contains", "TAIL", "retail", True),
        ("contains", "x", 5, False),
        ("starts_with", "RE", "retail", True),
        ("greater", 10, "20", False),  # text is never greater than a number
        ("greater", 10, 10.5, True),
        ("less", 0, -1, True),
        ("between", [1, 3], 3, True),  # both ends included
        ("between", [1, 3], True, False),
        ("is_empty", None, "", True),
        ("is_empty", None, None, True),
        ("is_empty", None, 0, False),
        ("is_set", None, False, True),
    ],
)
def test_condition_meaning(op: str, value: Any, found: Any, expected: bool) -> None:
    assert check(op, value, found) is expected
