"""Which seller takes a lead: the first assignment rule whose conditions hold on the lead, its
contact and its account, then round robin or the least loaded among the rule's sellers, never
past a seller's capacity. Conditions mean what they mean in scoring (scoring.values). No I/O:
the caller reads the rules, the sellers and their loads, and writes what is decided."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from scoring.definition import Test
from scoring.values import Records, test

# A reason names at most this many sellers, then says how many more.
NAMED = 10


class Strategy(StrEnum):
    ROUND_ROBIN = "round_robin"  # the next seller after the one the rule gave last
    LEAST_LOADED = "least_loaded"  # the seller with the fewest open leads


@dataclass(frozen=True)
class Seller:
    handle: str
    capacity: int  # the most open leads the seller owns
    active: bool
    load: int  # open leads the seller owns now
    team: str | None = None

    @property
    def free(self) -> int:
        """How many more leads the seller can take."""
        return max(self.capacity - self.load, 0) if self.active else 0


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    when: Test | None  # None: every lead
    strategy: Strategy
    sellers: tuple[str, ...] = ()  # handles, in the order round robin visits them
    team: str | None = None  # and every seller of this team, after the named ones
    cursor: str | None = None  # the seller round robin gave the rule's last lead


@dataclass(frozen=True)
class Decision:
    seller: str | None  # None: nobody can take the lead; it waits, unassigned
    rule: Rule | None
    reason: str

    @property
    def strategy(self) -> Strategy | None:
        return self.rule.strategy if self.rule is not None else None


class Router:
    """Decides for leads one after another, counting each assignment toward its seller's load
    and moving the rule's round-robin cursor, as the caller's writes will."""

    def __init__(self, rules: Sequence[Rule], sellers: Iterable[Seller]) -> None:
        self.rules = list(rules)
        self.sellers = {s.handle: s for s in sellers}
        self.cursors: dict[int, str | None] = {r.id: r.cursor for r in self.rules}
        self._order = list(self.sellers)

    def candidates(self, rule: Rule) -> list[str]:
        """The rule's sellers in round-robin order: those it names, then its team's."""
        named = [h for h in rule.sellers if h in self.sellers]
        team = (
            [h for h in self._order if self.sellers[h].team == rule.team and h not in named]
            if rule.team is not None
            else []
        )
        return named + team

    def rule_for(self, records: Records) -> Rule | None:
        """The first rule whose conditions hold: it alone decides, even if its sellers are full."""
        return next((r for r in self.rules if r.when is None or test(records, r.when)), None)

    @property
    def free(self) -> int:
        """How many more leads the sellers of every rule can take, all together."""
        handles = {h for rule in self.rules for h in self.candidates(rule)}
        return sum(self.sellers[h].free for h in handles)

    def explain(self, records: Records) -> Decision:
        """What would happen to the lead now, changing nothing."""
        return self._decide(records)

    def assign(self, records: Records) -> Decision:
        """Decide for the lead and count it: the seller's load rises, the cursor moves."""
        decision = self._decide(records)
        if decision.seller is not None and decision.rule is not None:
            seller = self.sellers[decision.seller]
            self.sellers[decision.seller] = replace(seller, load=seller.load + 1)
            if decision.rule.strategy is Strategy.ROUND_ROBIN:
                self.cursors[decision.rule.id] = decision.seller
        return decision

    def _decide(self, records: Records) -> Decision:
        if not self.rules:
            return Decision(None, None, "there are no assignment rules")
        rule = self.rule_for(records)
        if rule is None:
            return Decision(None, None, "no assignment rule matches the lead")
        handles = self.candidates(rule)
        if not handles:
            return Decision(None, rule, f"rule '{rule.name}' matched, but it has no sellers")
        able = [h for h in handles if self.sellers[h].free > 0]
        if not able:
            return Decision(
                None,
                rule,
                f"rule '{rule.name}' matched, but none of its sellers can take the lead: "
                + _why_not(self.sellers[h] for h in handles),
            )
        if rule.strategy is Strategy.ROUND_ROBIN:
            cursor = self.cursors.get(rule.id)
            start = handles.index(cursor) + 1 if cursor in handles else 0
            turn = handles[start:] + handles[:start]
            chosen = next(h for h in turn if self.sellers[h].free > 0)
            how = f"round robin gave the next of {len(handles)} sellers"
        else:
            chosen = min(able, key=lambda h: self.sellers[h].load)
            how = f"the least loaded of {len(handles)} sellers"
        seller = self.sellers[chosen]
        return Decision(
            chosen,
            rule,
            f"rule '{rule.name}' matched; {how}: {chosen}, who had {seller.load} of "
            f"{seller.capacity} open leads",
        )


def _why_not(sellers: Iterable[Seller]) -> str:
    reasons = [
        f"{s.handle} is inactive"
        if not s.active
        else f"{s.handle} is at capacity ({s.load} of {s.capacity})"
        for s in sellers
    ]
    shown = ", ".join(reasons[:NAMED])
    return shown + (f" and {len(reasons) - NAMED} more" if len(reasons) > NAMED else "")
