"""Activities declared on stages: checked with their line, and what a move makes."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

import bpf
from bpf.validation import parse

FILE = """\
processes:
  - name: sales
    default: true
    stages:
      - name: new
      - name: working
        activities:
          - kind: phone_call
            subject: Call them
            due_in: 2h
          - kind: task
            subject: Send the brochure
            due_in: 3d
            description: The PDF
      - name: won
        activities:
          - kind: appointment
            subject: Kick-off
            due_in: 1w
"""


def catalog(text: str = FILE) -> bpf.Catalog:
    return bpf.Catalog(parse(text, "stages.yaml"), "stages.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(bpf.StagesFileError) as caught:
        parse(textwrap.dedent(text), "stages.yaml")
    return [str(p) for p in caught.value.problems]


def test_a_stage_declares_the_activities_its_entry_makes() -> None:
    process = catalog().get("sales")
    assert process.activities_on_entry("new") == ()
    call, brochure = process.activities_on_entry("working")
    assert (call.kind, call.subject, call.due_after) == (
        "phone_call",
        "Call them",
        dt.timedelta(hours=2),
    )
    assert (brochure.description, brochure.due_after) == ("The PDF", dt.timedelta(days=3))
    assert process.activities_on_entry("won")[0].due_after == dt.timedelta(weeks=1)
    assert catalog().declares_activities is True


def test_a_file_without_activities_declares_none() -> None:
    text = FILE.split("        activities:")[0] + "      - name: won\n"
    assert catalog(text).declares_activities is False


def test_moves_through_several_stages_make_those_of_the_last_only() -> None:
    found = catalog().entered(
        [(1, "sales", "working"), (1, "sales", "won"), (2, "sales", "working"), (3, "sales", "new")]
    )
    assert found == {1: ("sales", "won"), 2: ("sales", "working")}
    assert catalog().entered([(4, "gone", "working")]) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            FILE.replace("kind: phone_call", "kind: phone"),
            "stages.yaml:8: activity kind 'phone' is not a kind of activity "
            "(did you mean 'phone_call'?)",
        ),
        (
            FILE.replace("kind: task", "kind: email"),
            "stages.yaml:11: activity kind 'email' is not a kind of activity "
            "(known kinds: appointment, phone_call, task)",
        ),
        (
            FILE.replace("due_in: 3d", "due_in: 3 days"),
            "stages.yaml:13: due_in: '3 days' is not a duration (a whole number and a unit: "
            "s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. 30m, 12h, 3d, 1w)",
        ),
        (
            FILE.replace("due_in: 2h", "due_in: 0h"),
            "stages.yaml:10: due_in: '0h' is not longer than zero",
        ),
        (
            FILE.replace("            due_in: 1w\n", ""),
            "stages.yaml:17: processes.0.stages.2.activities.0.due_in is required",
        ),
        (
            FILE.replace("subject: Kick-off", "subject: Kick-off\n            when: later"),
            "stages.yaml:19: unknown key 'when' in processes.0.stages.2.activities.0",
        ),
    ],
)
def test_a_bad_declaration_is_reported_with_its_line(text: str, expected: str) -> None:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_durations() -> None:
    assert bpf.parse_duration("30m") == dt.timedelta(minutes=30)
    assert bpf.parse_duration("12h") == dt.timedelta(hours=12)
    assert bpf.parse_duration("90s") == dt.timedelta(seconds=90)
    for bad in ("", "h", "2", "2y", "-1d", "1.5h", "10000d", "30 days"):
        with pytest.raises(ValueError, match="is not a duration"):
            bpf.parse_duration(bad)
    with pytest.raises(ValueError, match="is not longer than zero"):
        bpf.parse_duration("0h")


def test_the_bundled_process_calls_on_teleprospecting_and_reviews_on_sales_acceptance() -> None:
    process = bpf.Catalog.from_file(bpf.bundled_stages_file()).default
    [call] = process.activities_on_entry("teleprospecting_acceptance")
    [review] = process.activities_on_entry("sales_acceptance")
    assert (call.kind, call.subject) == ("phone_call", "Call the lead")
    assert (review.kind, review.subject) == ("task", "Review and accept the lead")
