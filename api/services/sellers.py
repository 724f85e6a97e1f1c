"""Sellers and assignment rules: each change a write transaction that, when it can let a
waiting lead be taken (a seller added, more capacity, back from inactive, a rule changed),
routes the unassigned queue again before it commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import bpf
from api.services import assignment as assignment_service
from api.services import records
from api.services.assignment import Assigned
from api.services.schemas.sellers import RuleCreate, RuleUpdate, SellerCreate, SellerUpdate
from api.storage.db import Database
from api.storage.locking import Expected, locked
from bpf.actors import Actor
from leads.errors import InvalidInput, Taken
from leads.models import Lead, LeadStatus
from leads.sellers import AssignmentRule, LeadAssignment, Seller
from leads.types import utcnow
from scoring.definition import Test, conditions_out_of_range

SELLER = "seller"
RULE = "assignment rule"

# Seller fields whose change can let a waiting lead be taken.
ROUTING_FIELDS = frozenset({"team", "capacity", "active"})


# -- sellers --------------------------------------------------------------------------------


def loads(session: Session, handles: Collection[str]) -> dict[str, int]:
    """Open leads each seller owns."""
    if not handles:
        return {}
    rows = session.exec(
        select(Lead.owner, func.count())
        .where(col(Lead.status) == LeadStatus.OPEN.value, col(Lead.owner).in_(sorted(handles)))
        .group_by(col(Lead.owner))
    )
    return {owner: count for owner, count in rows if owner is not None}


def create_seller(
    db: Database, catalog: bpf.Catalog, data: SellerCreate, actor: Actor
) -> tuple[Seller, int]:
    with db.write() as session:
        if session.exec(select(Seller.id).where(col(Seller.handle) == data.handle)).first():
            raise Taken("handle", f"a seller with handle '{data.handle}' exists")
        seller = Seller(**data.model_dump())
        session.add(seller)
        try:
            session.flush()
        except IntegrityError:
            raise Taken("handle", f"a seller with handle '{data.handle}' exists") from None
        assignment_service.route_waiting(session.connection(), catalog, actor)
        return seller, loads(session, [seller.handle]).get(seller.handle, 0)


def update_seller(
    db: Database,
    catalog: bpf.Catalog,
    seller_id: int,
    expected: Expected | None,
    data: SellerUpdate,
    actor: Actor,
) -> tuple[Seller, int]:
    changes = data.model_dump(exclude_unset=True)
    with db.write() as session:
        seller = locked(session, Seller, seller_id, expected, SELLER)
        changed = {k: v for k, v in changes.items() if getattr(seller, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(seller, key, value)
            seller.version += 1
            seller.updated_at = utcnow()
            session.add(seller)
            session.flush()
        if ROUTING_FIELDS & changed.keys():
            assignment_service.route_waiting(session.connection(), catalog, actor)
        return seller, loads(session, [seller.handle]).get(seller.handle, 0)


def get_seller(db: Database, seller_id: int) -> tuple[Seller, int]:
    seller = records.get(db, Seller, seller_id, SELLER)
    with db.read() as session:
        return seller, loads(session, [seller.handle]).get(seller.handle, 0)


def list_sellers(
    db: Database, team: str | None, active: bool | None, limit: int, cursor: str | None
) -> tuple[list[tuple[Seller, int]], str | None]:
    where = []
    if team is not None:
        where.append(col(Seller.team) == team)
    if active is not None:
        where.append(col(Seller.active) == active)
    sellers, next_cursor = records.listing(db, Seller, where, limit, cursor)
    with db.read() as session:
        counted = loads(session, [s.handle for s in sellers])
    return [(s, counted.get(s.handle, 0)) for s in sellers], next_cursor


# -- rules ----------------------------------------------------------------------------------


def _all_rules(session: Session) -> list[AssignmentRule]:
    """Every rule in order, locked: a change renumbers them."""
    query = (
        select(AssignmentRule)
        .order_by(col(AssignmentRule.position), col(AssignmentRule.id))
        .with_for_update()
    )
    return list(session.exec(query))


def _check_rule(
    session: Session, rules: Sequence[AssignmentRule], name: str | None, sellers: list[str] | None
) -> None:
    if name is not None and any(r.name == name for r in rules):
        raise Taken("name", f"an assignment rule named '{name}' exists")
    errors = []
    if sellers:
        known = set(session.exec(select(Seller.handle).where(col(Seller.handle).in_(sellers))))
        errors += [
            {"field": f"sellers.{i}", "reason": f"there is no seller '{handle}'"}
            for i, handle in enumerate(sellers)
            if handle not in known
        ]
    if errors:
        raise InvalidInput(errors)


def _place(rules: list[AssignmentRule], rule: AssignmentRule, position: int | None) -> None:
    """Put the rule at `position` (last when None or past the end) among the others."""
    others = [r for r in rules if r is not rule]
    index = len(others) if position is None else min(position - 1, len(others))
    rule.position = index + 1
    _renumber([*others[:index], rule, *others[index:]], rule)


def _renumber(ordered: list[AssignmentRule], moved: AssignmentRule | None = None) -> None:
    """Number the rules 1..n in this order; another rule whose position changes gets a new
    version."""
    now = utcnow()
    for number, item in enumerate(ordered, start=1):
        if item.position != number and item is not moved:
            item.version += 1
            item.updated_at = now
        item.position = number


def _refuse_out_of_range(when: Test | None) -> None:
    problems = [] if when is None else conditions_out_of_range(when, "when")
    if problems:
        raise InvalidInput([{"field": path, "reason": reason} for path, reason in problems])


def create_rule(
    db: Database, catalog: bpf.Catalog, data: RuleCreate, actor: Actor
) -> AssignmentRule:
    _refuse_out_of_range(data.when)
    with db.write() as session:
        rules = _all_rules(session)
        _check_rule(session, rules, data.name, data.sellers)
        rule = AssignmentRule(
            name=data.name,
            position=0,
            when=data.when.model_dump(mode="json", exclude_none=True) if data.when else None,
            strategy=data.strategy.value,
            sellers=list(data.sellers),
            team=data.team,
        )
        _place(rules, rule, data.position)
        session.add(rule)
        try:
            session.flush()
        except IntegrityError:
            raise Taken("name", f"an assignment rule named '{data.name}' exists") from None
        assignment_service.route_waiting(session.connection(), catalog, actor)
        session.refresh(rule)
    return rule


def update_rule(
    db: Database,
    catalog: bpf.Catalog,
    rule_id: int,
    expected: Expected | None,
    data: RuleUpdate,
    actor: Actor,
) -> AssignmentRule:
    given = data.model_fields_set
    _refuse_out_of_range(data.when)
    with db.write() as session:
        rules = _all_rules(session)
        rule = locked(session, AssignmentRule, rule_id, expected, RULE)
        others = [r for r in rules if r.id != rule_id]
        _check_rule(
            session,
            others,
            data.name if "name" in given and data.name != rule.name else None,
            data.sellers if "sellers" in given else None,
        )
        changes: dict[str, Any] = {}
        if "name" in given:
            changes["name"] = data.name
        if "when" in given:
            changes["when"] = (
                data.when.model_dump(mode="json", exclude_none=True) if data.when else None
            )
        if "strategy" in given:
            assert data.strategy is not None
            changes["strategy"] = data.strategy.value
        if "sellers" in given:
            changes["sellers"] = list(data.sellers or [])
        if "team" in given:
            changes["team"] = data.team
        changed = {k: v for k, v in changes.items() if getattr(rule, k) != v}
        if not (changed.get("sellers", rule.sellers) or changed.get("team", rule.team)):
            raise InvalidInput.field("sellers", "a rule names its sellers, a team, or both")
        moves = "position" in given and data.position != rule.position
        if changed or moves:
            for key, value in changed.items():
                setattr(rule, key, value)
            if moves:
                _place(rules, rule, data.position)
            rule.version += 1
            rule.updated_at = utcnow()
            session.add(rule)
            session.flush()
            assignment_service.route_waiting(session.connection(), catalog, actor)
            session.refresh(rule)
    return rule


def delete_rule(db: Database, rule_id: int, expected: Expected | None) -> None:
    with db.write() as session:
        rules = _all_rules(session)
        rule = locked(session, AssignmentRule, rule_id, expected, RULE)
        session.delete(rule)
        _renumber([r for r in rules if r.id != rule_id])


def get_rule(db: Database, rule_id: int) -> AssignmentRule:
    return records.get(db, AssignmentRule, rule_id, RULE)


def list_rules(db: Database) -> list[AssignmentRule]:
    with db.read() as session:
        query = select(AssignmentRule).order_by(
            col(AssignmentRule.position), col(AssignmentRule.id)
        )
        return list(session.exec(query))


def route_queue(db: Database, catalog: bpf.Catalog, actor: Actor) -> tuple[list[Assigned], int]:
    """Route the unassigned queue again; return what was assigned and how many still wait."""
    with db.write() as session:
        connection = session.connection()
        assigned = assignment_service.route_waiting(connection, catalog, actor)
        left = connection.execute(
            select(func.count()).select_from(Lead).where(assignment_service.waiting(catalog))
        ).scalar_one()
    return assigned, int(left)


def list_lead_assignments(
    db: Database, lead_id: int, limit: int, cursor: str | None
) -> tuple[list[LeadAssignment], str | None]:
    """A page of the lead's assignments, oldest first."""
    where = [col(LeadAssignment.lead_id) == lead_id]
    return records.listing(db, LeadAssignment, where, limit, cursor)
