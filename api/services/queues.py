"""The work queues: the leads teleprospecting and sales work on, by score or by time qualified,
and the leads waiting for an owner with the reason nobody takes them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select

import bpf
from api.services import access
from api.services import assignment as assignment_service
from api.services.assignment import LEADS
from api.storage.db import Database
from api.storage.paging import Order, decode_cursor, page
from leads.activities import Activity, ActivityStatus
from leads.errors import InvalidInput
from leads.models import Contact, LeadRow, LeadStatus
from scoring import routing
from scoring.tables import LeadScore, ModelStatus, ScoringModel
from scoring.values import Records

SCORES = LeadScore.__table__  # type: ignore[attr-defined]
MODELS = ScoringModel.__table__  # type: ignore[attr-defined]
CONTACTS = Contact.__table__  # type: ignore[attr-defined]
ACTIVITIES = Activity.__table__  # type: ignore[attr-defined]

# Where leads without a score sort: after any score a model can give.
UNSCORED = -1e15


class Sort(StrEnum):
    SCORE = "score"  # highest first
    QUALIFIED = "qualified"  # longest waiting first


def _score(model_id: int | None) -> ColumnElement[Any]:
    """The lead's highest current score across live models, or the one model's."""
    query = select(func.max(SCORES.c.score)).where(
        SCORES.c.lead_id == LEADS.c.id, SCORES.c.stale.is_(False)
    )
    if model_id is None:
        live = select(MODELS.c.id).where(MODELS.c.status == ModelStatus.LIVE.value)
        query = query.where(SCORES.c.model_id.in_(live))
    else:
        query = query.where(SCORES.c.model_id == model_id)
    return query.scalar_subquery()


def _order(rows: Any, sort: Sort) -> Order:
    if sort is Sort.SCORE:
        return Order(rows.c.sort_score, rows.c.id, descending=True, time=False, ties_ascending=True)
    return Order(rows.c.stage_entered_at, rows.c.id, descending=False, time=True)


@dataclass(frozen=True)
class ModelScore:
    model_id: int
    model: str
    score: float
    grade: str | None


@dataclass(frozen=True)
class Queued:
    """A lead of a queue with what a person needs to act on it."""

    lead: LeadRow
    score: float | None  # the sort's
    contact: Mapping[str, Any] | None  # the parent contact's row
    scores: list[ModelScore]  # of every live model that scored the lead
    next_activity: Mapping[str, Any] | None  # the open activity due first


def queued_leads(
    db: Database,
    catalog: bpf.Catalog,
    which: Queue,
    scope: access.Scope,
    *,
    owner: str | None,
    sort: Sort,
    model_id: int | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Queued], str | None]:
    """A page of the leads in the queue that the scope sees (owned by `owner` if given), in
    the sort's order, each with its contact, scores and next activity: four queries a page."""
    if model_id is not None:
        with db.read() as session:
            if session.get(ScoringModel, model_id) is None:
                raise InvalidInput.field("model", f"there is no scoring model {model_id}")
    clauses = [which(catalog), *access.clauses(scope)]
    if owner is not None:
        clauses.append(LEADS.c.owner == owner)
    score = _score(model_id)
    inner = select(
        LEADS,
        score.label("score"),
        func.coalesce(score, UNSCORED).label("sort_score"),
    ).where(*clauses)
    rows = inner.subquery("queued")
    order = _order(rows, sort)
    key = "sort_score" if sort is Sort.SCORE else "stage_entered_at"
    with db.read() as session:
        connection = session.connection()
        found = list(connection.execute(order.apply(select(rows), cursor, limit)).mappings())
        found, next_cursor = order.page(found, limit, key, "id")
        leads = [_lead(row) for row in found]
        contacts = _contacts(connection, leads)
        scores = _live_scores(connection, [lead.values["id"] for lead in leads])
        due = _next_activities(connection, [lead.values["id"] for lead in leads])
    return [
        Queued(
            lead=lead,
            score=row["score"],
            contact=contacts.get(lead.values["parent_contact_id"]),
            scores=scores.get(lead.values["id"], []),
            next_activity=due.get(lead.values["id"]),
        )
        for lead, row in zip(leads, found, strict=True)
    ], next_cursor


def _contacts(connection: Connection, leads: list[LeadRow]) -> dict[int, Mapping[str, Any]]:
    wanted = {lead.values["parent_contact_id"] for lead in leads} - {None}
    if not wanted:
        return {}
    query = select(CONTACTS).where(CONTACTS.c.id.in_(wanted))
    return {row["id"]: row for row in connection.execute(query).mappings()}


def _live_scores(connection: Connection, lead_ids: list[int]) -> dict[int, list[ModelScore]]:
    query = (
        select(SCORES.c.lead_id, SCORES.c.model_id, MODELS.c.name, SCORES.c.score, SCORES.c.grade)
        .join(MODELS, MODELS.c.id == SCORES.c.model_id)
        .where(
            SCORES.c.lead_id.in_(lead_ids),
            SCORES.c.stale.is_(False),
            MODELS.c.status == ModelStatus.LIVE.value,
        )
        .order_by(SCORES.c.lead_id, SCORES.c.model_id)
    )
    found: dict[int, list[ModelScore]] = {}
    for lead_id, model_id, name, value, grade in connection.execute(query) if lead_ids else []:
        found.setdefault(lead_id, []).append(ModelScore(model_id, name, value, grade))
    return found


def _next_activities(connection: Connection, lead_ids: list[int]) -> dict[int, Mapping[str, Any]]:
    if not lead_ids:
        return {}
    rank = func.row_number().over(
        partition_by=ACTIVITIES.c.lead_id, order_by=(ACTIVITIES.c.due_at, ACTIVITIES.c.id)
    )
    ranked = (
        select(ACTIVITIES, rank.label("rank"))
        .where(
            ACTIVITIES.c.lead_id.in_(lead_ids),
            ACTIVITIES.c.status == ActivityStatus.OPEN.value,
        )
        .subquery()
    )
    query = select(ranked).where(ranked.c.rank == 1)
    return {row["lead_id"]: row for row in connection.execute(query).mappings()}


def _lead(row: Any) -> LeadRow:
    values = dict(row)
    values.pop("sort_score")
    values.pop("score")
    return LeadRow(values)


def sales(catalog: bpf.Catalog) -> ColumnElement[bool]:
    return assignment_service.for_sales(catalog)


def teleprospecting(catalog: bpf.Catalog) -> ColumnElement[bool]:
    """Open leads in the stages stages.yaml puts in the teleprospecting queue."""
    stages = assignment_service.queue_stages(catalog, "teleprospecting")
    return and_(LEADS.c.status == LeadStatus.OPEN.value, assignment_service.in_stages(stages))


Queue = Callable[[bpf.Catalog], ColumnElement[bool]]
"""Which leads a work queue holds, as the catalog says: `sales` or `teleprospecting`."""


def unassigned(
    db: Database, catalog: bpf.Catalog, scope: access.Scope, limit: int, cursor: str | None
) -> tuple[list[tuple[LeadRow, str]], str | None]:
    """The leads waiting for an owner, oldest first, each with why nobody takes it now."""
    query = (
        select(LEADS)
        .where(
            assignment_service.waiting(catalog),
            LEADS.c.id > decode_cursor(cursor),
            *access.clauses(scope),
        )
        .order_by(LEADS.c.id)
        .limit(limit + 1)
    )
    with db.read() as session:
        connection = session.connection()
        found, next_cursor = page(list(connection.execute(query)), limit)
        rows = [dict(row._mapping) for row in found]
        router = assignment_service.router(connection, lock=False)
        records = assignment_service.records_of(connection, rows)
    return [
        (LeadRow(row), _why(router, record)) for row, record in zip(rows, records, strict=True)
    ], next_cursor


def _why(router: routing.Router | None, records: Records) -> str:
    if router is None:
        return "there are no assignment rules"
    decision = router.explain(records)
    if decision.seller is None:
        return decision.reason
    return (
        f"{decision.seller} can take it now ({decision.reason}): route the queue again with "
        "POST /api/queues/unassigned/route"
    )
