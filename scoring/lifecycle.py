"""The lifecycle of what scores and qualifies leads: which step leads from which state where.

A scoring model goes draft -> live -> stopped -> draft; a qualification goes draft ->
published -> stopped -> published. Each step is one row of a table, and a step taken from a
state it does not leave is refused with the row's words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from leads.errors import Conflict
from scoring.tables import ModelStatus, QualificationStatus


class Stateful(Protocol):
    status: str
    version: int
    updated_at: dt.datetime


@dataclass(frozen=True)
class Step:
    to: str
    sources: frozenset[str]
    refusal: str  # formatted with the state the record is in, as {status}


@dataclass(frozen=True)
class Lifecycle:
    slug: str
    steps: Mapping[str, Step]

    def take(self, record: Stateful, step: str, now: dt.datetime) -> None:
        """Move the record along `step`, a new version of it, or refuse with a conflict."""
        rule = self.steps[step]
        if record.status not in rule.sources:
            raise Conflict(
                rule.refusal.format(status=record.status),
                slug=self.slug,
                title="Not in this state",
            )
        record.status = str(rule.to)
        record.version += 1
        record.updated_at = now


_M = ModelStatus
_Q = QualificationStatus

MODELS = Lifecycle(
    "model-state",
    {
        "go_live": Step(_M.LIVE, frozenset({_M.DRAFT, _M.STOPPED}), "the model is live already"),
        "stop": Step(_M.STOPPED, frozenset({_M.LIVE}), "the model is {status}, not live"),
        "to_draft": Step(
            _M.DRAFT,
            frozenset({_M.STOPPED}),
            "the model is {status}; only a stopped model returns to draft",
        ),
    },
)

QUALIFICATIONS = Lifecycle(
    "qualification-state",
    {
        "publish": Step(
            _Q.PUBLISHED,
            frozenset({_Q.DRAFT, _Q.STOPPED}),
            "the qualification is published already",
        ),
        "stop": Step(
            _Q.STOPPED, frozenset({_Q.PUBLISHED}), "the qualification is {status}, not published"
        ),
    },
)
