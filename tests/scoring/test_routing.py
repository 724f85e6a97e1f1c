"""The routing decision on its own: never past capacity, round robin spreads within one of even,
least loaded takes the seller with the fewest open leads, the first matching rule decides."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from scoring.definition import Condition, Op
from scoring.routing import Router, Rule, Seller, Strategy

LEAD = {"lead": {"topic": "t", "attributes": {}}, "contact": None, "account": None}

sellers = st.lists(
    st.builds(
        Seller,
        handle=st.sampled_from(["a", "b", "c", "d", "e"]),
        capacity=st.integers(0, 6),
        active=st.booleans(),
        load=st.integers(0, 8),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda s: s.handle,
)


def everyone(strategy: Strategy, handles: list[str], cursor: str | None = None) -> Rule:
    return Rule(1, "all", None, strategy, tuple(handles), cursor=cursor)


@given(sellers, st.sampled_from(list(Strategy)), st.integers(0, 40))
def test_no_seller_goes_past_capacity_and_leads_wait_only_when_all_are_full(
    team: list[Seller], strategy: Strategy, leads: int
) -> None:
    router = Router([everyone(strategy, [s.handle for s in team])], team)
    before = {s.handle: s for s in team}
    for _ in range(leads):
        free = router.free
        decision = router.assign(LEAD)
        assert (decision.seller is None) == (free == 0)
    for handle, now in router.sellers.items():
        start = before[handle]
        gained = now.load - start.load
        assert gained >= 0
        assert gained == 0 or (start.active and now.load <= start.capacity)


@given(st.integers(1, 5), st.integers(0, 60), st.sampled_from([None, "s0", "s2", "gone"]))
def test_round_robin_spreads_within_one_of_even(size: int, leads: int, cursor: str | None) -> None:
    team = [Seller(f"s{i}", capacity=1000, active=True, load=0) for i in range(size)]
    router = Router([everyone(Strategy.ROUND_ROBIN, [s.handle for s in team], cursor)], team)
    given_to = Counter(router.assign(LEAD).seller for _ in range(leads))
    counts = [given_to.get(s.handle, 0) for s in team]
    assert max(counts) - min(counts) <= 1
    assert sum(counts) == leads


@given(st.lists(st.integers(0, 10), min_size=1, max_size=5), st.integers(1, 30))
def test_least_loaded_takes_a_seller_with_the_fewest_open_leads(
    loads: list[int], leads: int
) -> None:
    team = [Seller(f"s{i}", 100, True, load) for i, load in enumerate(loads)]
    router = Router([everyone(Strategy.LEAST_LOADED, [s.handle for s in team])], team)
    for _ in range(leads):
        fewest = min(s.load for s in router.sellers.values())
        decision = router.assign(LEAD)
        assert decision.seller is not None
        assert router.sellers[decision.seller].load - 1 == fewest


def test_round_robin_continues_after_the_cursor_and_skips_who_cannot_take() -> None:
    team = [
        Seller("a", 5, True, 0),
        Seller("b", 5, False, 0),
        Seller("c", 1, True, 1),
        Seller("d", 5, True, 0),
    ]
    router = Router([everyone(Strategy.ROUND_ROBIN, ["a", "b", "c", "d"], cursor="a")], team)
    assert [router.assign(LEAD).seller for _ in range(3)] == ["d", "a", "d"]
    assert router.cursors == {1: "d"}


def test_the_first_matching_rule_decides_even_when_its_sellers_are_full() -> None:
    french = Condition(field="account.country", op=Op.EQUALS, value="FR")
    rules = [
        Rule(1, "france", french, Strategy.ROUND_ROBIN, ("fr",)),
        Rule(2, "rest", None, Strategy.LEAST_LOADED, ("any",)),
    ]
    team = [Seller("fr", 1, True, 1), Seller("any", 9, True, 0)]
    router = Router(rules, team)
    in_france = {**LEAD, "account": {"country": "fr", "attributes": {}}}
    decision = router.assign(in_france)
    assert (decision.seller, decision.rule and decision.rule.name) == (None, "france")
    assert decision.reason == (
        "rule 'france' matched, but none of its sellers can take the lead: fr is at capacity "
        "(1 of 1)"
    )
    assert router.assign(LEAD).seller == "any"


def test_a_team_adds_its_sellers_after_the_named_ones() -> None:
    team = [
        Seller("x", 9, True, 0, team="emea"),
        Seller("y", 9, True, 0, team="apac"),
        Seller("z", 9, True, 0, team="emea"),
    ]
    rule = Rule(1, "emea", None, Strategy.ROUND_ROBIN, ("z",), team="emea")
    router = Router([rule], team)
    assert router.candidates(rule) == ["z", "x"]
    assert [router.assign(LEAD).seller for _ in range(3)] == ["z", "x", "z"]
    assert Router([], team).explain(LEAD).reason == "there are no assignment rules"
