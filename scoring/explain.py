"""One lead (or account) evaluated in Python, rule by rule, with the interactions behind each
rule's points and when they expire. It agrees with scoring.sql to the cent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scoring.definition import AttributeRule, BehaviourRule, Count, ScoringDefinition
from scoring.values import CONSENT_RANK, MICRO, Records, cents, decay_micros, equals, test

DAY = 86400


@dataclass(frozen=True)
class Occurrence:
    """An interaction as scoring reads it."""

    id: int
    kind: str
    occurred_epoch: int
    target: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Counted:
    id: int
    kind: str
    occurred_at: dt.datetime
    weight: float  # 1, or the decayed share of the rule's points it still carries
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class Contribution:
    rule: str
    type: str
    cents: int  # the rule's points, rounded to hundredths, in hundredths
    held: bool | None = None  # attribute rules: whether the condition holds
    occurrences: int | None = None  # behaviour rules: how many interactions count
    interactions: list[Counted] = field(default_factory=list)
    expires_at: dt.datetime | None = None  # when, with nothing new happening, this changes

    @property
    def points(self) -> float:
        return self.cents / 100


@dataclass(frozen=True)
class Evaluation:
    scored: bool
    reason: str | None  # why not scored
    score: float | None
    grade: str | None
    reached: bool
    contributions: list[Contribution]

    @property
    def next_change_at(self) -> dt.datetime | None:
        moments = [c.expires_at for c in self.contributions if c.expires_at is not None]
        return min(moments) if moments else None


def matches(rule: BehaviourRule, occurrence: Occurrence, now: int) -> bool:
    if occurrence.kind != rule.kind:
        return False
    if rule.target is not None:
        target = occurrence.target
        if rule.target.equals is not None and target != rule.target.equals:
            return False
        if rule.target.starts_with is not None and not (
            target is not None and target.startswith(rule.target.starts_with)
        ):
            return False
    for key, wanted in rule.properties.items():
        if not equals(occurrence.properties.get(key), wanted):
            return False
    return rule.window_days is None or occurrence.occurred_epoch >= now - rule.window_days * DAY


def evaluate(
    definition: ScoringDefinition,
    records: Records,
    occurrences: Sequence[Occurrence],
    now: int,
) -> Evaluation:
    """Score the record (its lead, contact and account in `records`) as of `now` (Unix s)."""
    if definition.audience is not None and not test(records, definition.audience):
        return Evaluation(False, "not in the model's audience", None, None, False, [])
    if definition.min_consent is not None:
        contact = records.get("contact")
        level = CONSENT_RANK.get(str(contact.get("consent_level")), 0) if contact else 0
        if level < CONSENT_RANK[definition.min_consent]:
            return Evaluation(
                False,
                f"the contact has not consented to {definition.min_consent}",
                None,
                None,
                False,
                [],
            )
    contributions = [
        _attribute(rule, records)
        if isinstance(rule, AttributeRule)
        else _behaviour(rule, occurrences, now)
        for rule in definition.rules
    ]
    total = sum(c.cents for c in contributions)
    score = total / 100
    grade = next(
        (
            g.name
            for g in definition.grades
            if (g.min is None or score >= g.min) and (g.max is None or score < g.max)
        ),
        None,
    )
    reached = definition.sales_ready_score is not None and score >= definition.sales_ready_score
    return Evaluation(True, None, score, grade, reached, contributions)


def _attribute(rule: AttributeRule, records: Records) -> Contribution:
    held = test(records, rule.when)
    return Contribution(
        rule=rule.name, type="attribute", cents=cents(rule.points) if held else 0, held=held
    )


def _behaviour(rule: BehaviourRule, occurrences: Sequence[Occurrence], now: int) -> Contribution:
    found = sorted(
        (o for o in occurrences if matches(rule, o, now)),
        key=lambda o: (o.occurred_epoch, o.id),
        reverse=True,
    )
    n = len(found)

    def expiry(occurrence: Occurrence) -> dt.datetime | None:
        if rule.window_days is None:
            return None
        return _moment(occurrence.occurred_epoch + rule.window_days * DAY)

    if rule.count is Count.AT_LEAST:
        assert rule.times is not None
        points = rule.points if n >= rule.times else 0.0
        # The points go when the times-th newest occurrence leaves the window.
        expires = expiry(found[rule.times - 1]) if n >= rule.times else None
        weights = [1.0] * n
    elif rule.count is Count.NONE:
        points = rule.points if n == 0 else 0.0
        # The penalty (or bonus) comes back when the newest occurrence leaves the window.
        expires = expiry(found[0]) if n else None
        weights = [1.0] * n
    else:
        if rule.half_life_days is None:
            weights = [1.0] * n
            points = n * rule.points
        else:
            micros = [decay_micros(now - o.occurred_epoch, rule.half_life_days) for o in found]
            weights = [m / MICRO for m in micros]
            points = sum(micros) * rule.points / MICRO
        if rule.cap is not None:
            points = min(points, rule.cap) if rule.points > 0 else max(points, rule.cap)
        expires = min((e for e in map(expiry, found) if e is not None), default=None)
    return Contribution(
        rule=rule.name,
        type="behaviour",
        cents=cents(points),
        occurrences=n,
        interactions=[
            Counted(o.id, o.kind, _moment(o.occurred_epoch), w, expiry(o))
            for o, w in zip(found, weights, strict=True)
        ],
        expires_at=expires,
    )


def _moment(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
