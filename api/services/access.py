"""Which leads a caller may see and change: one rule, as a SQL condition on the lead table.

Admins, marketers and service keys see every lead. A salesperson sees the leads owned by the
seller their key acts for or by a seller of the same team, and the leads of the sales queue
that have no owner yet, which they may take (a key acting for no seller sees none). A
teleprospector sees the leads in a stage stages.yaml puts in the teleprospecting
queue, and those owned by the seller their key acts for. A lead outside the rule is answered
exactly as a lead that does not exist.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, Connection, and_, false, or_, select
from sqlmodel import Session

import bpf
from api.services import assignment
from api.services.assignment import LEADS, SELLERS
from api.services.keys import Principal, Role
from api.storage.db import Database
from api.storage.locking import Expected, locked
from leads.errors import NotFound
from leads.models import Lead

Scope = ColumnElement[bool] | None
"""A condition on the lead table, or None for every lead."""

SEES_ALL = frozenset({Role.ADMIN, Role.MARKETER, Role.SERVICE})


def scope(principal: Principal, catalog: bpf.Catalog) -> Scope:
    """The leads the principal may see."""
    if principal.role in SEES_ALL:
        return None
    handle = principal.seller
    if principal.role is Role.TELEPROSPECTOR:
        stages = assignment.in_stages(assignment.queue_stages(catalog, "teleprospecting"))
        return stages if handle is None else or_(stages, LEADS.c.owner == handle)
    if handle is None:
        return false()
    team = select(SELLERS.c.team).where(SELLERS.c.handle == handle).scalar_subquery()
    teammates = select(SELLERS.c.handle).where(SELLERS.c.team.is_not(None), SELLERS.c.team == team)
    # The leads of the sales queue without an owner too: the unassigned queue they take from.
    unowned = and_(LEADS.c.owner.is_(None), assignment.for_sales(catalog))
    return or_(LEADS.c.owner == handle, LEADS.c.owner.in_(teammates), unowned)


def clauses(where: Scope) -> list[ColumnElement[bool]]:
    """The scope as clauses to add to a query on the lead table."""
    return [] if where is None else [where]


def belongs(column: ColumnElement[int | None], where: Scope) -> list[ColumnElement[bool]]:
    """Clauses keeping the records whose lead (`column`) is visible."""
    if where is None:
        return []
    return [and_(column.is_not(None), column.in_(select(LEADS.c.id).where(where)))]


def require(connection: Connection, where: Scope, lead_id: int) -> None:
    """404, as for a lead that does not exist, unless the lead is visible. In a write
    transaction, call it once the lead is locked: it then reads the owner as it stays until
    the change commits, so a lead reassigned meanwhile is not changed by its former owner."""
    if not sees(connection, where, lead_id):
        raise NotFound("lead", lead_id)


class OfALead(Protocol):
    lead_id: int | None


Record = TypeVar("Record", bound=OfALead)


def of_visible_lead(
    db: Database, where: Scope, model: type[Record], ident: int, kind: str
) -> Record:
    """A record that belongs to a lead (an activity, an opportunity), if the lead is visible;
    not found, as for a missing one, otherwise."""
    with db.read() as session:
        row = session.get(model, ident)
        if row is None or not sees(session.connection(), where, row.lead_id):
            raise NotFound(kind, ident)
    return row


def locked_lead(session: Session, where: Scope, lead_id: int, expected: Expected | None) -> Lead:
    """The lead under lock until the transaction ends, if the caller may see it, its version
    checked."""
    return locked(
        session,
        Lead,
        lead_id,
        expected,
        "lead",
        visible=lambda _: sees(session.connection(), where, lead_id),
    )


def sees(connection: Connection, where: Scope, lead_id: int | None) -> bool:
    """Whether the lead is visible; a record of no lead is visible only to those who see all."""
    if where is None:
        return True
    if lead_id is None:
        return False
    query = select(LEADS.c.id).where(LEADS.c.id == lead_id, where)
    return connection.execute(query).first() is not None
