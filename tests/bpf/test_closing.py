"""What stages.yaml says about closing: the stages a lead is qualified from, the reasons it is
disqualified with, the reasons an opportunity is lost with; their defaults and their checks."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import bpf
from bpf.validation import parse
from tests.bpf.test_validation import VALID, only, problems


@dataclass
class FakeLead:
    stage: str
    process: str = "sales"
    fields: dict[str, Any] = field(default_factory=dict)

    def field_value(self, name: str) -> Any:
        return self.fields.get(name)


def catalog(text: str) -> bpf.Catalog:
    return bpf.Catalog(parse(textwrap.dedent(text), "stages.yaml"), "stages.yaml")


def with_keys(process_keys: str = "", file_keys: str = "") -> str:
    """VALID with these keys added to its process and to the file."""
    text = VALID.replace("    default: true\n", "    default: true\n" + process_keys, 1)
    return file_keys + text


def test_absent_keys_take_the_defaults() -> None:
    found = catalog(VALID)
    process = found.default
    assert process.disqualify_reasons == (
        "lost",
        "cannot_contact",
        "no_longer_interested",
        "canceled",
    )
    assert process.qualify_from == ("new", "working", "won")
    assert found.lost_reasons == ("out_sold", "no_budget", "no_decision", "timing", "canceled")


def test_without_qualify_from_any_stage_qualifies_once_its_required_steps_are_filled() -> None:
    process = catalog(VALID).default
    assert process.qualify_refusal(FakeLead("working")) is None
    assert process.qualify_refusal(FakeLead("new")) == (
        "stage 'new' has required steps missing: owner"
    )
    assert process.qualify_refusal(FakeLead("new", fields={"owner": "ana"})) is None


def test_qualify_from_names_the_only_stages_a_lead_is_qualified_from() -> None:
    process = catalog(with_keys("    qualify_from: [working]\n")).default
    assert process.qualify_refusal(FakeLead("working")) is None
    assert process.qualify_refusal(FakeLead("new", fields={"owner": "ana"})) == (
        "a lead of process 'sales' is qualified from working, not from stage 'new'"
    )


def test_the_bundled_process_qualifies_from_sales_acceptance_with_its_steps_filled() -> None:
    process = bpf.Catalog.from_file(bpf.bundled_stages_file()).default
    assert process.qualify_from == ("sales_acceptance",)
    ready = FakeLead("sales_acceptance", fields={"owner": "ana", "sales_accepted": True})
    assert process.qualify_refusal(ready) is None
    unaccepted = FakeLead("sales_acceptance", fields={"owner": "ana"})
    assert process.qualify_refusal(unaccepted) == (
        "stage 'sales_acceptance' has required steps missing: sales_accepted"
    )
    assert "not from stage 'inquiry'" in (process.qualify_refusal(FakeLead("inquiry")) or "")


def test_reasons_of_your_own_replace_the_defaults() -> None:
    found = catalog(
        with_keys(
            "    disqualify_reasons: [lost, duplicate, spam, wrong_person]\n",
            "opportunities:\n  lost_reasons: [price, competitor]\n",
        )
    )
    assert found.default.disqualify_reasons == ("lost", "duplicate", "spam", "wrong_person")
    assert found.lost_reasons == ("price", "competitor")


def test_a_reason_listed_twice_is_named_with_its_line() -> None:
    problem = only(with_keys("    disqualify_reasons: [spam, duplicate,\n      spam]\n"))
    assert (problem.line, problem.message) == (5, "'spam' is listed twice in disqualify_reasons")
    problem = only(with_keys(file_keys="opportunities:\n  lost_reasons:\n    - a\n    - a\n"))
    assert (problem.line, problem.message) == (4, "'a' is listed twice in lost_reasons")


def test_a_bad_reason_name_or_an_empty_list_is_refused() -> None:
    problem = only(with_keys("    disqualify_reasons: [Wrong-Person]\n"))
    assert problem.line == 4
    assert "'Wrong-Person' is not a valid name" in problem.message
    problem = only(with_keys(file_keys="opportunities:\n  lost_reasons: []\n"))
    assert (problem.line, "lost_reasons" in problem.message) == (2, True)
    long_name = "x" * 41
    problem = only(with_keys(f"    disqualify_reasons: [{long_name}]\n"))
    assert "at most 40 characters" in problem.message


def test_qualify_from_names_stages_of_its_process_once_each() -> None:
    found = problems(with_keys("    qualify_from: [working, wokring, working]\n"))
    assert [(p.line, p.message, p.hint) for p in found] == [
        (4, "'working' is listed twice in qualify_from", "list each name once"),
        (
            4,
            "qualify_from stage 'wokring' is not a stage of process 'sales'",
            "did you mean 'working'?",
        ),
    ]


def test_an_unknown_key_under_opportunities_is_named() -> None:
    problem = only(with_keys(file_keys="opportunities:\n  lost_reason: [a]\n"))
    assert problem.message == "unknown key 'lost_reason' in opportunities"
    assert problem.hint == "did you mean 'lost_reasons'?"
