"""Finding leads and contacts: by text, by a model's score and grade, by created and updated
time, in id, score, created or last-activity order, a page at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select

from api.services import access
from api.services.assignment import LEADS
from api.storage import search
from api.storage.db import Database
from api.storage.paging import Order, decode_cursor, encode_cursor
from leads.errors import InvalidInput
from leads.models import Contact, Interaction, LeadRow, LeadStatus
from scoring.tables import LeadScore, ScoringModel

SCORES = LeadScore.__table__  # type: ignore[attr-defined]
CONTACTS = Contact.__table__  # type: ignore[attr-defined]
INTERACTIONS = Interaction.__table__  # type: ignore[attr-defined]
# Where leads without interactions sort by last activity: before any interaction.
NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class LeadSort(StrEnum):
    ID = "id"
    SCORE = "score"  # the model's, lowest first; -score highest first
    SCORE_DESC = "-score"
    CREATED = "created"
    CREATED_DESC = "-created"
    LAST_ACTIVITY = "last_activity"  # the lead's or its contact's latest interaction
    LAST_ACTIVITY_DESC = "-last_activity"


@dataclass(frozen=True)
class Span:
    """A time range, either end open; `name` is the query parameters' prefix."""

    name: str
    after: dt.datetime | None = None
    before: dt.datetime | None = None

    def clauses(self, column: ColumnElement[Any]) -> list[ColumnElement[bool]]:
        after, before = self.after, self.before
        if after is not None and before is not None and after >= before:
            raise InvalidInput.field(f"{self.name}_before", f"must be later than {self.name}_after")
        return [
            *([column > after] if after is not None else []),
            *([column < before] if before is not None else []),
        ]


@dataclass(frozen=True)
class Scored:
    """Leads by one model's score: within [low, high] and of the grade, when given."""

    model: int | None = None
    low: float | None = None
    high: float | None = None
    grade: str | None = None

    def check(self, db: Database, sort: LeadSort) -> None:
        wanted = [
            name
            for name, given in (
                ("score_min", self.low is not None),
                ("score_max", self.high is not None),
                ("grade", self.grade is not None),
                ("sort", sort in (LeadSort.SCORE, LeadSort.SCORE_DESC)),
            )
            if given
        ]
        if self.model is None:
            if wanted:
                raise InvalidInput.field(wanted[0], "needs model: the scoring model's id")
            return
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InvalidInput.field("score_max", "must not be below score_min")
        with db.read() as session:
            if session.get(ScoringModel, self.model) is None:
                raise InvalidInput.field("model", f"there is no scoring model {self.model}")

    def clauses(self) -> list[ColumnElement[bool]]:
        return [
            SCORES.c.model_id == self.model,
            *([SCORES.c.score >= self.low] if self.low is not None else []),
            *([SCORES.c.score <= self.high] if self.high is not None else []),
            *([SCORES.c.grade == self.grade] if self.grade is not None else []),
        ]


@dataclass(frozen=True)
class LeadFilter:
    process: str | None = None
    stage: str | None = None
    status: LeadStatus | None = None
    owner: str | None = None
    sales_ready: bool | None = None
    q: str | None = None
    scored: Scored = Scored()
    created: Span = field(default_factory=lambda: Span("created"))
    updated: Span = field(default_factory=lambda: Span("updated"))

    def clauses(self) -> list[ColumnElement[bool]]:
        equal = {
            LEADS.c.process: self.process,
            LEADS.c.stage: self.stage,
            LEADS.c.status: self.status.value if self.status else None,
            LEADS.c.owner: self.owner,
            LEADS.c.sales_ready: self.sales_ready,
        }
        return [
            *(column == value for column, value in equal.items() if value is not None),
            *self.created.clauses(LEADS.c.created_at),
            *self.updated.clauses(LEADS.c.updated_at),
        ]


def list_leads(
    db: Database,
    scope: access.Scope,
    where: LeadFilter,
    sort: LeadSort,
    limit: int,
    cursor: str | None,
) -> tuple[list[LeadRow], str | None]:
    """A page of the leads the scope sees that the filter keeps, in the sort's order."""
    where.scored.check(db, sort)
    text = search.Text.parse(where.q) if where.q is not None else None
    query = select(LEADS).where(*where.clauses(), *access.clauses(scope))
    ident: ColumnElement[Any] = LEADS.c.id
    if text is not None:
        query, ident = search.matching(
            query, "lead_search", db.url.get_backend_name(), text, LEADS.c.id
        )
    if where.scored.model is not None:
        query = query.join(SCORES, SCORES.c.lead_id == LEADS.c.id).where(*where.scored.clauses())
        if sort in (LeadSort.SCORE, LeadSort.SCORE_DESC):
            ident = SCORES.c.lead_id  # the index on (model, score, lead) gives the order
    order = _order(sort, ident, db.is_sqlite)
    rows, next_cursor = _page(db, query, order, ident, limit, cursor)
    return [LeadRow({c.name: row[c.name] for c in LEADS.c}) for row in rows], next_cursor


def list_contacts(
    db: Database,
    where: Sequence[ColumnElement[bool]],
    q: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of contacts in id order: those the clauses keep and that match the text."""
    query = select(CONTACTS).where(*where)
    ident: ColumnElement[Any] = CONTACTS.c.id
    if q is not None:
        text = search.Text.parse(q)
        query, ident = search.matching(
            query, "contact_search", db.url.get_backend_name(), text, ident
        )
    rows, next_cursor = _page(db, query, None, ident, limit, cursor)
    return [{c.name: row[c.name] for c in CONTACTS.c} for row in rows], next_cursor


def _order(sort: LeadSort, ident: ColumnElement[Any], sqlite: bool) -> Order | None:
    descending = sort.value.startswith("-")
    kind = sort.value.lstrip("-")
    if kind == "score":
        return Order(SCORES.c.score, ident, descending, time=False)
    if kind == "created":
        return Order(LEADS.c.created_at, ident, descending, time=True)
    if kind == "last_activity":
        return Order(_last_activity(sqlite), ident, descending, time=True)
    return None


def _last_activity(sqlite: bool) -> ColumnElement[Any]:
    """The time of the latest interaction of the lead, or of its contact's (those count for
    every lead of the contact); leads without any sort as if their last was in 1970."""
    own = select(func.max(INTERACTIONS.c.occurred_at)).where(INTERACTIONS.c.lead_id == LEADS.c.id)
    of_contact = select(func.max(INTERACTIONS.c.occurred_at)).where(
        INTERACTIONS.c.contact_id == LEADS.c.parent_contact_id,
        INTERACTIONS.c.lead_id.is_(None),
    )
    never = literal(NEVER, LEADS.c.created_at.type)
    latest = [func.coalesce(q.scalar_subquery(), never) for q in (own, of_contact)]
    # SQLite's max of several arguments is PostgreSQL's greatest.
    return func.max(*latest) if sqlite else func.greatest(*latest)


def _page(
    db: Database,
    query: Select[Any],
    order: Order | None,
    ident: ColumnElement[Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    query = query.add_columns(ident.label("sort_id"))
    if order is None:
        query = query.where(ident > decode_cursor(cursor)).order_by(ident).limit(limit + 1)
    else:
        query = order.apply(query.add_columns(order.key.label("sort_key")), cursor, limit)
    with db.read() as session:
        rows = list(session.connection().execute(query).mappings())
    if order is not None:
        return order.page(rows, limit, "sort_key", "sort_id")
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(rows[limit - 1]["sort_id"])
