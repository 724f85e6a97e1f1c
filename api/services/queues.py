"""The work queues: the leads teleprospecting and sales work on, by score or by time qualified,
and the leads waiting for an owner with the reason nobody takes them."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

import bpf
from api.services import access
from api.services import assignment as assignment_service
from api.services.assignment import LEADS
from api.storage.db import Database
from api.storage.paging import decode_cursor, page
from leads.errors import InvalidInput
from leads.models import LeadRow, LeadStatus
from scoring import routing
from scoring.tables import LeadScore, ModelStatus, ScoringModel
from scoring.values import Records

SCORES = LeadScore.__table__  # type: ignore[attr-defined]
MODELS = ScoringModel.__table__  # type: ignore[attr-defined]

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


def _encode(key: Any, last_id: int) -> str:
    text = json.dumps([key, last_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, sort: Sort) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, last_id = json.loads(raw)
        if not isinstance(last_id, int):
            raise ValueError
        if sort is Sort.SCORE:
            if not isinstance(key, int | float) or isinstance(key, bool):
                raise ValueError
            return float(key), last_id
        return dt.datetime.fromisoformat(key), last_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput.field(
            "cursor", f"not a cursor this API returned for sort={sort}"
        ) from None


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
) -> tuple[list[tuple[LeadRow, float | None]], str | None]:
    """A page of the leads in the queue that the scope sees (owned by `owner` if given), in
    the sort's order, each with its score."""
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
    query = select(rows)
    if sort is Sort.SCORE:
        key_column = rows.c.sort_score
        if cursor is not None:
            key, after = _decode(cursor, sort)
            query = query.where(or_(key_column < key, and_(key_column == key, rows.c.id > after)))
        query = query.order_by(key_column.desc(), rows.c.id)
    else:
        key_column = rows.c.stage_entered_at
        if cursor is not None:
            key, after = _decode(cursor, sort)
            query = query.where(or_(key_column > key, and_(key_column == key, rows.c.id > after)))
        query = query.order_by(key_column, rows.c.id)
    with db.read() as session:
        found = list(session.connection().execute(query.limit(limit + 1)).mappings())
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        last = found[-1]
        key = (
            last["sort_score"]
            if sort is Sort.SCORE
            else last["stage_entered_at"].astimezone(dt.UTC).isoformat()
        )
        next_cursor = _encode(key, last["id"])
    return [(_lead(row), row["score"]) for row in found], next_cursor


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
