"""The opportunities qualified leads became, as far as the caller may see them: read, edited
while open, won, lost and reopened. Each change is one transaction: the opportunity and its
version, the audit of its fields, the history row of a status change, and its event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

import bpf
from api.services import access, audit, outbox, records
from api.services.outbox import EventType
from api.services.schemas.opportunities import (
    LoseRequest,
    OpportunityReopenRequest,
    OpportunityUpdate,
    WinRequest,
    cents,
    units,
)
from api.storage.bulk import in_values
from api.storage.db import Database
from api.storage.locking import Expected, locked
from bpf.actors import Actor
from leads.audit import AuditEntry, Entity
from leads.errors import Conflict, InvalidInput
from leads.opportunities import Opportunity, OpportunityStatus, OpportunityStatusChange
from leads.types import utcnow

OPEN, WON, LOST = OpportunityStatus.OPEN, OpportunityStatus.WON, OpportunityStatus.LOST
ANNOUNCED = {
    WON: EventType.OPPORTUNITY_WON,
    LOST: EventType.OPPORTUNITY_LOST,
    OPEN: EventType.OPPORTUNITY_REOPENED,
}
# A day may already have begun somewhere on Earth (UTC+14) that has not begun at UTC.
_EARLIEST_ZONE = dt.timedelta(hours=14)


def list_opportunities(
    db: Database,
    scope: access.Scope,
    *,
    lead_id: int | None,
    account_id: int | None,
    contact_id: int | None,
    owner: str | None,
    status: OpportunityStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Opportunity], str | None]:
    """A page of the opportunities of leads the scope sees, in id order, filtered."""
    where: list[ColumnElement[bool]] = []
    for column, value in (
        (Opportunity.lead_id, lead_id),
        (Opportunity.account_id, account_id),
        (Opportunity.contact_id, contact_id),
        (Opportunity.owner, owner),
        (Opportunity.status, status.value if status else None),
    ):
        if value is not None:
            where.append(col(column) == value)
    where += access.belongs(col(Opportunity.lead_id), scope)
    return records.listing(db, Opportunity, where, limit, cursor)


def get_opportunity(db: Database, scope: access.Scope, opportunity_id: int) -> Opportunity:
    """The opportunity; 404, as for one that does not exist, unless the scope sees its lead."""
    return access.of_visible_lead(db, scope, Opportunity, opportunity_id, "opportunity")


def outcomes(db: Database, lead_ids: Collection[int]) -> dict[int, Opportunity]:
    """The opportunity each of these leads became (the latest, should there be more), by lead,
    in one query."""
    if not lead_ids:
        return {}
    with db.read() as session:
        dialect = session.connection().dialect.name
        query = (
            select(Opportunity)
            .where(in_values(col(Opportunity.lead_id), lead_ids, dialect))
            .order_by(col(Opportunity.id))
        )
        return {o.lead_id: o for o in session.exec(query) if o.lead_id is not None}


def update(
    db: Database,
    scope: access.Scope,
    opportunity_id: int,
    expected: Expected | None,
    data: OpportunityUpdate,
    actor: Actor,
) -> Opportunity:
    """Change the name, the estimated value, currency or close date of an open opportunity;
    nothing is written when no value differs."""
    given = data.model_dump(include=data.model_fields_set)
    if "estimated_value" in given:
        given["estimated_value_cents"] = cents(given.pop("estimated_value"))
    with db.write() as session:
        opportunity = _locked(session, scope, opportunity_id, expected)
        if opportunity.status != OPEN.value:
            raise _not_open(opportunity, "be changed")
        changes = {k: v for k, v in given.items() if getattr(opportunity, k) != v}
        if changes:
            now = utcnow()
            before = _change(session, opportunity, changes, actor, now)
            told = {"changes": {k: {"from": before[k], "to": v} for k, v in changes.items()}}
            _announce(session, EventType.OPPORTUNITY_UPDATED, opportunity, told, actor, now)
    return opportunity


def win(
    db: Database,
    scope: access.Scope,
    opportunity_id: int,
    expected: Expected | None,
    data: WinRequest,
    actor: Actor,
) -> Opportunity:
    """An open opportunity is won, for its actual value, on a day not in the future."""
    values = {
        "actual_value_cents": cents(data.actual_value),
        "closed_on": _closed_on(data.closed_on),
        "lost_reason": None,
    }
    return _close(db, scope, opportunity_id, expected, WON, values, data.note, actor)


def lose(
    db: Database,
    catalog: bpf.Catalog,
    scope: access.Scope,
    opportunity_id: int,
    expected: Expected | None,
    data: LoseRequest,
    actor: Actor,
) -> Opportunity:
    """An open opportunity is lost, for one of the lost reasons of stages.yaml."""
    InvalidInput.check_one_of("reason", data.reason, list(catalog.lost_reasons), "a lost reason")
    values = {
        "actual_value_cents": None,
        "closed_on": _closed_on(data.closed_on),
        "lost_reason": data.reason,
    }
    return _close(db, scope, opportunity_id, expected, LOST, values, data.note, actor)


def reopen(
    db: Database,
    scope: access.Scope,
    opportunity_id: int,
    expected: Expected | None,
    data: OpportunityReopenRequest,
    actor: Actor,
) -> Opportunity:
    """A won or lost opportunity is open again; what it closed with stays in its history."""
    with db.write() as session:
        opportunity = _locked(session, scope, opportunity_id, expected)
        if opportunity.status == OPEN.value:
            raise Conflict(
                f"opportunity {opportunity.id} is open; only a won or lost one can be reopened",
                slug="opportunity-not-closed",
                title="Opportunity not closed",
                current_status=opportunity.status,
            )
        values = {"actual_value_cents": None, "closed_on": None, "lost_reason": None}
        _set_status(session, opportunity, OPEN, values, data.note, actor)
    return opportunity


def history(
    db: Database, scope: access.Scope, opportunity_id: int, limit: int, cursor: str | None
) -> tuple[list[OpportunityStatusChange], str | None]:
    """Its status changes, oldest first."""
    get_opportunity(db, scope, opportunity_id)
    where = [col(OpportunityStatusChange.opportunity_id) == opportunity_id]
    return records.listing(db, OpportunityStatusChange, where, limit, cursor)


def audit_entries(
    db: Database, scope: access.Scope, opportunity_id: int, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """Every change to its fields, newest first."""
    get_opportunity(db, scope, opportunity_id)
    return audit.history(db, Entity.OPPORTUNITY, opportunity_id, limit, cursor)


def _close(
    db: Database,
    scope: access.Scope,
    opportunity_id: int,
    expected: Expected | None,
    status: OpportunityStatus,
    values: dict[str, Any],
    note: str | None,
    actor: Actor,
) -> Opportunity:
    with db.write() as session:
        opportunity = _locked(session, scope, opportunity_id, expected)
        if opportunity.status != OPEN.value:
            raise _not_open(opportunity, f"be {status.value}")
        _set_status(session, opportunity, status, values, note, actor)
    return opportunity


def _set_status(
    session: Session,
    opportunity: Opportunity,
    status: OpportunityStatus,
    values: dict[str, Any],
    note: str | None,
    actor: Actor,
) -> None:
    """Give the opportunity this status and these values, keep the change in its history and
    announce it."""
    assert opportunity.id is not None
    now = utcnow()
    from_status = opportunity.status
    _change(session, opportunity, {"status": status.value, **values}, actor, now)
    change = OpportunityStatusChange(
        opportunity_id=opportunity.id,
        from_status=from_status,
        status=status.value,
        reason=opportunity.lost_reason,
        note=note,
        actual_value_cents=opportunity.actual_value_cents,
        currency=opportunity.currency,
        closed_on=opportunity.closed_on,
        actor=actor.kind.value,
        actor_name=actor.name,
        at=now,
    )
    session.add(change)
    session.flush()
    data = {
        "from_status": from_status,
        "actual_value": units(opportunity.actual_value_cents),
        "currency": opportunity.currency,
        "closed_on": opportunity.closed_on,
        "lost_reason": opportunity.lost_reason,
        "note": note,
    }
    _announce(session, ANNOUNCED[status], opportunity, data, actor, now)


def _change(
    session: Session,
    opportunity: Opportunity,
    values: Mapping[str, Any],
    actor: Actor,
    now: dt.datetime,
) -> dict[str, Any]:
    """Write these values and a new version, audit them; return the values they replaced."""
    assert opportunity.id is not None
    before = {k: getattr(opportunity, k) for k in values}
    for name, value in values.items():
        setattr(opportunity, name, value)
    opportunity.version += 1
    opportunity.updated_at = now
    session.add(opportunity)
    session.flush()
    audit.record(
        session.connection(),
        Entity.OPPORTUNITY,
        [(opportunity.id, _json(before), _json(values))],
        actor,
        now,
    )
    return before


def _announce(
    session: Session,
    event: EventType,
    opportunity: Opportunity,
    data: Mapping[str, Any],
    actor: Actor,
    now: dt.datetime,
) -> None:
    """The event names the lead (routing and erasure of events go by it) and the version."""
    body = {
        "opportunity_id": opportunity.id,
        "lead_id": opportunity.lead_id,
        "status": opportunity.status,
        "version": opportunity.version,
        **data,
        "actor": outbox.actor_data(actor.kind.value, actor.name),
    }
    outbox.emit(session.connection(), event, [body], now=now)


def _locked(
    session: Session, scope: access.Scope, opportunity_id: int, expected: Expected | None
) -> Opportunity:
    """The opportunity under lock, if the caller sees its lead, its version checked."""
    return locked(
        session,
        Opportunity,
        opportunity_id,
        expected,
        "opportunity",
        visible=lambda row: access.sees(session.connection(), scope, row.lead_id),
    )


def _not_open(opportunity: Opportunity, what: str) -> Conflict:
    detail = f"opportunity {opportunity.id} is {opportunity.status}; only an open one can {what}"
    return Conflict(
        f"{detail} (reopen it first)",
        slug="opportunity-not-open",
        title="Opportunity not open",
        current_status=opportunity.status,
    )


def _closed_on(day: dt.date | None) -> dt.date:
    """The day given, or today (UTC); a day that has begun nowhere yet is refused."""
    now = utcnow()
    if day is None:
        return now.date()
    latest = (now + _EARLIEST_ZONE).date()
    if day > latest:
        raise InvalidInput.field("closed_on", f"{day.isoformat()} is in the future")
    return day


def _json(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the audit log stores them: days as ISO dates."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}
