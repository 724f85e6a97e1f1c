"""stages.yaml says which stages hand a lead to sales routing and which queue lists a stage."""

from __future__ import annotations

import bpf
from bpf.validation import parse
from tests.bpf.test_validation import VALID, only


def test_the_bundled_file_routes_sales_acceptance_and_queues_teleprospecting() -> None:
    catalog = bpf.Catalog.from_file(bpf.bundled_stages_file())
    stages = {s.name: s for s in catalog.default.definition.stages}
    assert [n for n, s in stages.items() if s.routes_to_sales] == ["sales_acceptance"]
    assert [n for n, s in stages.items() if s.queue == "teleprospecting"] == [
        "teleprospecting_acceptance",
        "teleprospecting_qualification",
    ]


def test_queue_and_routing_flags_parse() -> None:
    text = VALID.replace(
        "      - name: working\n",
        "      - name: working\n        queue: teleprospecting\n",
    ).replace("      - name: won\n", "      - name: won\n        routes_to_sales: true\n")
    stages = parse(text, "stages.yaml").processes[0].stages
    assert [(s.name, s.queue, s.routes_to_sales) for s in stages] == [
        ("new", None, False),
        ("working", "teleprospecting", False),
        ("won", None, True),
    ]


def test_an_unknown_queue_is_named_with_its_line() -> None:
    problem = only(
        VALID.replace("      - name: won\n", "      - name: won\n        queue: phone\n")
    )
    assert problem.line == 14
    assert "queue" in problem.message and "'teleprospecting' or 'sales'" in problem.message


def test_a_stage_that_routes_to_sales_is_not_in_the_teleprospecting_queue() -> None:
    problem = only(
        VALID.replace(
            "      - name: won\n",
            "      - name: won\n        routes_to_sales: true\n        queue: teleprospecting\n",
        )
    )
    assert str(problem) == (
        "stages.yaml:15: stage 'won' routes leads to sales but lists them in the teleprospecting "
        "queue (a stage that routes to sales is in the sales queue: leave out 'queue')"
    )
