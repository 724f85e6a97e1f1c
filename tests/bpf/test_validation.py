"""stages.yaml checking: every problem is reported with its line and, where possible, a fix."""

from __future__ import annotations

import textwrap

import pytest

import bpf
from bpf.validation import parse

VALID = """\
processes:
  - name: sales
    default: true
    stages:
      - name: new
        steps:
          - field: owner
            required: true
      - name: working
        steps:
          - field: qualified
            type: boolean
      - name: won
    transitions:
      - trigger: win
        source: [new, working]
        dest: won
        guards:
          - field: qualified
            equals: true
    automations:
      - when: qualified
        fire: win
      - when: sales_ready
        fire: win
        switch: automatic_sales_ready
"""


def problems(text: str) -> list[bpf.Problem]:
    with pytest.raises(bpf.StagesFileError) as caught:
        parse(textwrap.dedent(text), "stages.yaml")
    return caught.value.problems


def only(text: str) -> bpf.Problem:
    found = problems(text)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_the_bundled_file_is_valid() -> None:
    catalog = bpf.Catalog.from_file(bpf.bundled_stages_file())
    assert catalog.default.name == "lead_to_opportunity"
    assert catalog.default.stages == [
        "inquiry",
        "automated_marketing_qualification",
        "teleprospecting_acceptance",
        "teleprospecting_qualification",
        "sales_acceptance",
    ]


def test_a_valid_file_parses() -> None:
    doc = parse(VALID, "stages.yaml")
    assert [p.name for p in doc.processes] == ["sales"]


def test_yaml_syntax_error_names_line_and_column() -> None:
    problem = only("processes:\n  - name: sales\n    stages: [new\n")
    assert problem.message.startswith("YAML syntax")
    assert problem.line >= 3
    assert str(problem).startswith(f"stages.yaml:{problem.line}: YAML syntax")


def test_duplicate_yaml_key_is_reported_where_it_repeats() -> None:
    problem = only(VALID.replace("    default: true\n", "    default: true\n    default: false\n"))
    assert problem.line == 4
    assert "duplicate key 'default'" in problem.message


def test_unknown_stage_in_a_transition_suggests_the_close_name() -> None:
    problem = only(VALID.replace("dest: won", "dest: wonn"))
    assert problem.line == 17
    assert problem.message == "destination 'wonn' is not a stage of process 'sales'"
    assert problem.hint == "did you mean 'won'?"


def test_unknown_source_in_a_list_is_located_on_its_item() -> None:
    problem = only(
        VALID.replace("source: [new, working]", "source:\n          - new\n          - workin")
    )
    assert problem.line == 18
    assert "source 'workin'" in problem.message
    assert problem.hint == "did you mean 'working'?"


def test_duplicate_stage_names() -> None:
    found = problems(VALID.replace("      - name: won\n", "      - name: won\n      - name: new\n"))
    assert any(p.message == "stage 'new' is declared twice" and p.line == 14 for p in found)


def test_a_stage_nothing_reaches() -> None:
    text = VALID.replace(
        "      - name: won\n", "      - name: won\n        next: null\n      - name: lost\n"
    )
    problem = only(text)
    assert problem.line == 15
    assert "nothing reaches stage 'lost'" in problem.message


def test_a_stage_reached_only_by_a_transition_is_fine() -> None:
    text = VALID.replace(
        "      - name: won\n", "      - name: won\n        next: null\n      - name: lost\n"
    )
    text += "      - when: marketing_qualified\n        fire: lose\n"
    text = text.replace(
        "    automations:\n",
        "      - trigger: lose\n        source: '*'\n        dest: lost\n    automations:\n",
    )
    doc = parse(text, "stages.yaml")
    assert [s.name for s in doc.processes[0].stages][-1] == "lost"


def test_automation_naming_an_unknown_trigger_switch_or_outcome() -> None:
    text = (
        VALID.replace("fire: win\n        switch", "fire: wni\n        switch")
        .replace("switch: automatic_sales_ready", "switch: automatic_sale_ready")
        .replace("when: qualified", "when: qualifed")
    )
    found = {p.line: p for p in problems(text)}
    assert found[22].message == "automation waits for 'qualifed', which is not an outcome"
    assert found[22].hint == "did you mean 'qualified'?"
    assert found[25].message == "automation fires 'wni', which is not a trigger of process 'sales'"
    assert found[25].hint == "did you mean 'win'?"
    assert (
        found[26].message == "automation is gated by 'automatic_sale_ready', which is not a switch"
    )
    assert found[26].hint == "did you mean 'automatic_sales_ready'?"


def test_unknown_keys_are_named_with_a_suggestion() -> None:
    problem = only(
        VALID.replace("        dest: won", "        destination: won\n        dest: won")
    )
    assert problem.message == "unknown key 'destination' in processes.0.transitions.0"
    assert problem.line == 17
    assert problem.hint == "did you mean 'dest'?"


def test_a_missing_required_key() -> None:
    problem = only(VALID.replace("        dest: won\n", ""))
    assert problem.message == "processes.0.transitions.0.dest is required"
    assert problem.line == 15


def test_names_must_be_identifiers() -> None:
    problem = only(
        VALID.replace("name: working", "name: Working Hard").replace("[new, working]", "[new]")
    )
    assert "'Working Hard' is not a valid name" in problem.message
    assert problem.line == 9


def test_custom_fields_declare_a_type_and_typos_of_builtins_are_caught() -> None:
    problem = only(VALID.replace("field: owner", "field: ownr"))
    assert problem.line == 7
    assert "'ownr' is not a built-in field and declares no type" in problem.message
    assert problem.hint == "did you mean 'owner'?"


def test_a_field_has_one_type_everywhere() -> None:
    text = VALID.replace(
        "      - name: won\n",
        "      - name: won\n        steps:\n          - field: qualified\n            type: text\n",
    )
    problem = only(text)
    assert "declared as text here and as boolean in sales.working" in problem.message


def test_guards_must_read_step_fields_with_fitting_values() -> None:
    found = problems(
        VALID.replace("equals: true", "equals: 3").replace(
            "field: qualified\n            equals", "field: qualify\n            equals"
        )
    )
    assert len(found) == 1
    assert found[0].message == "guard reads 'qualify', which is not a step field"
    assert found[0].hint == "did you mean 'qualified'?"
    problem = only(VALID.replace("equals: true", "equals: 3"))
    assert problem.message == "guard value 3 for 'qualified' must be true or false"


def test_next_is_reserved() -> None:
    problem = only(
        VALID.replace("trigger: win", "trigger: next").replace("fire: win", "fire: next")
    )
    assert "'next' is the built-in trigger" in problem.message


def test_one_default_process() -> None:
    second = VALID.split("processes:\n", 1)[1].replace("name: sales", "name: support")
    found = problems(VALID + second)
    assert [p.message for p in found] == ["process 'support' is a second default"]
    found = problems((VALID + second).replace("default: true", "default: false"))
    assert [p.message for p in found] == ["no process is the default for new leads"]


def test_every_problem_is_reported_at_once() -> None:
    text = VALID.replace("dest: won", "dest: wonn").replace(
        "fire: win\n      - when", "fire: wn\n      - when"
    )
    assert len(problems(text)) == 2


def test_renames_must_point_to_declared_stages() -> None:
    problem = only(
        VALID.replace("    default: true\n", "    default: true\n    renamed:\n      open: neww\n")
    )
    assert problem.message == "renamed stage target 'neww' is not a stage of process 'sales'"
    assert problem.hint == "did you mean 'new'?"
