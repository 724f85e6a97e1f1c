"""Moves, guards and automations of a process, on a plain lead object."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpf
from bpf.schema import NEXT

CATALOG = bpf.Catalog.from_file(bpf.bundled_stages_file())
PROCESS = CATALOG.default
INQ, AMQ, TA, TQ, SA = PROCESS.stages


@dataclass
class FakeLead:
    process: str = "lead_to_opportunity"
    stage: str = INQ
    fields: dict[str, Any] = field(default_factory=dict)

    def field_value(self, name: str) -> Any:
        return self.fields.get(name)


def test_scoring_moves_a_new_lead_to_marketing_qualification_when_the_switch_is_on() -> None:
    lead = FakeLead()
    moves = PROCESS.apply_outcomes(lead, ["lead_scored"], automated=True, switches={})
    assert moves == [bpf.Move(INQ, AMQ, "begin_marketing_qualification")]


def test_a_switch_that_is_off_stops_automated_actors_only() -> None:
    off = {"automated_marketing_qualification": False, "automatic_sales_ready": False}
    lead = FakeLead()
    assert PROCESS.apply_outcomes(lead, ["lead_scored"], automated=True, switches=off) == []
    assert lead.stage == INQ
    lead.fields["sales_ready"] = True
    assert PROCESS.apply_outcomes(lead, ["sales_ready"], automated=True, switches=off) == []
    assert lead.stage == INQ
    moves = PROCESS.apply_outcomes(lead, ["sales_ready"], automated=False, switches=off)
    assert moves == [bpf.Move(INQ, SA, "hand_to_sales")]


def test_a_lead_in_sales_acceptance_is_not_moved_back_by_scoring() -> None:
    lead = FakeLead(stage=SA, fields={"sales_ready": True})
    assert (
        PROCESS.apply_outcomes(lead, ["lead_scored", "sales_ready"], automated=True, switches={})
        == []
    )
    assert lead.stage == SA


def test_sales_ready_skips_the_teleprospecting_stages_from_any_earlier_stage() -> None:
    for stage in (INQ, AMQ, TA, TQ):
        lead = FakeLead(stage=stage, fields={"sales_ready": True})
        assert PROCESS.apply_outcomes(lead, ["sales_ready"], automated=True, switches={}) == [
            bpf.Move(stage, SA, "hand_to_sales")
        ]


def test_guards_say_what_is_missing() -> None:
    lead = FakeLead(stage=TA)
    with pytest.raises(bpf.GuardRefused) as caught:
        PROCESS.fire(lead, NEXT)
    assert caught.value.missing_steps == ["teleprospect_accepted"]
    with pytest.raises(bpf.GuardRefused) as caught:
        PROCESS.fire(lead, "start_teleprospecting")
    assert caught.value.reasons == ["'teleprospect_accepted' must be true"]
    assert lead.stage == TA


def test_not_allowed_and_unknown_are_told_apart() -> None:
    lead = FakeLead(stage=SA)
    with pytest.raises(bpf.MoveNotAllowed) as not_allowed:
        PROCESS.fire(lead, NEXT)
    assert not_allowed.value.allowed == ["to:<stage>"]
    with pytest.raises(bpf.UnknownName) as unknown:
        PROCESS.fire(lead, "hand_to_sale")
    assert unknown.value.hint == "did you mean 'hand_to_sales'?"


OPERATIONS = st.one_of(
    st.tuples(st.just("fire"), st.sampled_from([NEXT, *PROCESS.triggers])),
    st.tuples(st.just("switch"), st.sampled_from(PROCESS.stages)),
    st.tuples(
        st.just("set"),
        st.tuples(
            st.sampled_from(["sales_ready", "teleprospecting_ready", "teleprospect_accepted"]),
            st.booleans(),
        ),
    ),
    st.tuples(
        st.just("outcome"),
        st.tuples(
            st.sampled_from(["lead_scored", "sales_ready", "teleprospecting_ready"]),
            st.booleans(),
        ),
    ),
)


@given(st.lists(OPERATIONS, max_size=40))
def test_every_move_is_accounted_for(operations: list[tuple[str, Any]]) -> None:
    """Whatever happens, the lead is in a stage of its process; a refused move leaves it where
    it was; an accepted one reports exactly the stage it left and the one it entered; and no
    automation moves a lead out of Sales acceptance."""
    lead = FakeLead()
    for kind, argument in operations:
        before = lead.stage
        moves: list[bpf.Move] = []
        try:
            if kind == "fire":
                moves = [PROCESS.fire(lead, argument)]
            elif kind == "switch":
                moves = [PROCESS.switch(lead, argument)]
            elif kind == "set":
                name, value = argument
                lead.fields[name] = value
            else:
                outcome, automated = argument
                moves = PROCESS.apply_outcomes(lead, [outcome], automated=automated, switches={})
                if before == SA:
                    assert moves == []
        except (bpf.MoveNotAllowed, bpf.GuardRefused):
            assert lead.stage == before
            continue
        assert lead.stage in PROCESS.stages
        if moves:
            assert moves[0].from_stage == before
            assert moves[-1].to_stage == lead.stage
            for earlier, later in itertools.pairwise(moves):
                assert earlier.to_stage == later.from_stage
        else:
            assert lead.stage == before
