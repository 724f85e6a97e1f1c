"""Qualification criteria without a database: their shape, the models they name, and what
they mean."""

from __future__ import annotations

import pytest

from scoring import qualification
from scoring.qualification import CriteriaError, ModelInfo

CRITERIA = {
    "any": [
        {"model": "engagement", "score_at_least": 50},
        {
            "all": [
                {"model": "fit", "grade_in": ["A", "B"]},
                {"model": "engagement", "score_at_least": 30},
            ]
        },
    ]
}
MODELS = {
    "engagement": ModelInfo(1, "engagement", "live", "lead", ("hot", "cold")),
    "fit": ModelInfo(2, "fit", "live", "lead", ("A", "B", "C")),
}


def test_criteria_read_back_as_written() -> None:
    parsed = qualification.parse(CRITERIA)
    assert qualification.to_json(parsed) == CRITERIA
    assert qualification.depth(parsed) == 2
    assert [t.path for t in qualification.tests(parsed)] == [
        "criteria.any[0]",
        "criteria.any[1].all[0]",
        "criteria.any[1].all[1]",
    ]


def test_every_problem_is_named_by_its_path() -> None:
    with pytest.raises(CriteriaError) as caught:
        qualification.parse(
            {
                "all": [
                    {"model": "", "score_at_least": True},
                    {"model": "fit", "grade_in": ["A", "A"]},
                ]
            }
        )
    assert caught.value.errors == [
        ("criteria.all[0].model", "the name of a scoring model (1 to 100 characters)"),
        ("criteria.all[0].score_at_least", "a number"),
        ("criteria.all[1].grade_in[1]", "'A' is named twice"),
    ]
    with pytest.raises(CriteriaError):
        qualification.parse({"model": "fit", "score_at_least": float("inf")})
    with pytest.raises(CriteriaError):
        qualification.parse("engagement > 50")


def test_the_models_named_must_be_live_lead_models_with_the_grades_named() -> None:
    parsed = qualification.parse(CRITERIA)
    assert qualification.check_models(parsed, MODELS) == []
    stopped = {**MODELS, "fit": ModelInfo(2, "fit", "stopped", "lead", ("A", "B", "C"))}
    assert qualification.check_models(parsed, stopped) == [
        (
            "criteria.any[1].all[0].model",
            "scoring model 'fit' is stopped; criteria read live models only",
        )
    ]
    regraded = {**MODELS, "fit": ModelInfo(2, "fit", "live", "lead", ("A",))}
    assert qualification.check_models(parsed, regraded) == [
        (
            "criteria.any[1].all[0].grade_in[1]",
            "scoring model 'fit' has no grade 'B' (its grades: A)",
        )
    ]


@pytest.mark.parametrize(
    ("scores", "held"),
    [
        ({}, False),
        ({"engagement": (50.0, "hot")}, True),
        ({"engagement": (49.99, "hot")}, False),
        ({"engagement": (30.0, None), "fit": (10.0, "B")}, True),
        ({"engagement": (30.0, None), "fit": (10.0, "C")}, False),
        ({"engagement": (29.0, None), "fit": (10.0, "A")}, False),
        ({"fit": (99.0, "A")}, False),
    ],
)
def test_what_criteria_mean(scores: dict[str, tuple[float, str | None]], held: bool) -> None:
    assert qualification.holds(qualification.parse(CRITERIA), scores) is held
