"""Routing leads to sellers: which leads wait for an owner, the hook every change that can make
a lead wait calls (`route`), and the re-try of the unassigned queue (`route_waiting`).

scoring.routing decides; this module reads the rules, the sellers and their loads, and writes
what it decided, in the caller's write transaction. A lead waits for an owner when it is open,
has none, and is sales ready or in a stage stages.yaml marks `routes_to_sales`.

Lock order, so that no two transactions wait for each other: leads, then the assignment rules
(every routing locks them all, which serialises routing on PostgreSQL; the rule cursors and
the loads it reads are then current). Sellers are never locked by routing; the re-try of the
queue skips leads another transaction holds, since that transaction routes them itself. An
owner a person gives (`check_owner`: by hand, a take, a hand-off) locks the lead, then the
seller, then the rules, so it is never past capacity either; a seller changed by an admin
locks the seller, then the rules, and skips locked leads.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    update,
)

import bpf
from api.services import activity_rows, audit, outbox
from api.services.outbox import EventType
from api.storage.bulk import in_values
from bpf.actors import Actor
from leads.audit import Entity
from leads.errors import Conflict, InvalidInput
from leads.models import Account, Contact, Lead, LeadStatus
from leads.sellers import AssignmentRule, LeadAssignment, Seller
from leads.types import utcnow
from scoring import routing
from scoring.definition import Condition, Group, Test
from scoring.values import Records

LEADS = Lead.__table__  # type: ignore[attr-defined]
CONTACTS = Contact.__table__  # type: ignore[attr-defined]
ACCOUNTS = Account.__table__  # type: ignore[attr-defined]
SELLERS = Seller.__table__  # type: ignore[attr-defined]
RULES = AssignmentRule.__table__  # type: ignore[attr-defined]
ASSIGNMENTS = LeadAssignment.__table__  # type: ignore[attr-defined]

BATCH = 1000
MANUAL = "manual"
IMPORT = "import"
TAKE = "take"
HAND_OFF = "hand_off"


# -- what stages.yaml says ------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def routing_stages(catalog: bpf.Catalog) -> frozenset[tuple[str, str]]:
    """(process, stage) of every stage whose entry hands a lead to sales routing."""
    processes = catalog.definition.processes
    return frozenset((p.name, s.name) for p in processes for s in p.stages if s.routes_to_sales)


@functools.lru_cache(maxsize=16)
def queue_stages(catalog: bpf.Catalog, queue: str) -> frozenset[tuple[str, str]]:
    """(process, stage) of every stage whose open leads the queue lists; a stage that routes
    to sales is in the sales queue."""
    return frozenset(
        (p.name, s.name)
        for p in catalog.definition.processes
        for s in p.stages
        if s.queue == queue or (queue == "sales" and s.routes_to_sales)
    )


def routes_to_sales(catalog: bpf.Catalog, process: str, stage: str) -> bool:
    return (process, stage) in routing_stages(catalog)


def in_stages(stages: Collection[tuple[str, str]]) -> ColumnElement[bool]:
    by_process: dict[str, list[str]] = {}
    for process, stage in sorted(stages):
        by_process.setdefault(process, []).append(stage)
    if not by_process:
        return false()
    return or_(
        *(
            and_(LEADS.c.process == process, LEADS.c.stage.in_(names))
            for process, names in by_process.items()
        )
    )


def for_sales(catalog: bpf.Catalog) -> ColumnElement[bool]:
    """Open leads for sales: sales ready, or in a stage of the sales queue."""
    return and_(
        LEADS.c.status == LeadStatus.OPEN.value,
        or_(LEADS.c.sales_ready.is_(True), in_stages(queue_stages(catalog, "sales"))),
    )


def waiting(catalog: bpf.Catalog) -> ColumnElement[bool]:
    """Leads that wait for an owner: open, without one, sales ready or in a routing stage."""
    return and_(
        LEADS.c.status == LeadStatus.OPEN.value,
        LEADS.c.owner.is_(None),
        or_(LEADS.c.sales_ready.is_(True), in_stages(routing_stages(catalog))),
    )


# -- the router -----------------------------------------------------------------------------


def rule_test(stored: Mapping[str, Any] | None) -> Test | None:
    if stored is None:
        return None
    if "field" in stored:
        return Condition.model_validate(stored)
    return Group.model_validate(stored)


def router(connection: Connection, *, lock: bool) -> routing.Router | None:
    """The rules in order and their sellers with their loads now; None when there are no rules.
    `lock` takes the rules' locks (see the module's note), for a transaction that writes."""
    query = select(RULES).order_by(RULES.c.position, RULES.c.id)
    if lock:
        query = query.with_for_update()
    rules = [
        routing.Rule(
            id=r.id,
            name=r.name,
            when=rule_test(r.when),
            strategy=routing.Strategy(r.strategy),
            sellers=tuple(r.sellers or ()),
            team=r.team,
            cursor=r.cursor,
        )
        for r in connection.execute(query)
    ]
    if not rules:
        return None
    named = {h for r in rules for h in r.sellers}
    teams = {r.team for r in rules if r.team is not None}
    sellers = [
        s
        for s in connection.execute(select(SELLERS).order_by(SELLERS.c.id))
        if s.handle in named or s.team in teams
    ]
    loads: dict[str, int] = {}
    if sellers:
        handles = [s.handle for s in sellers]
        loads = {
            str(owner): int(count)
            for owner, count in connection.execute(
                select(LEADS.c.owner, func.count())
                .where(
                    LEADS.c.status == LeadStatus.OPEN.value,
                    in_values(LEADS.c.owner, handles, connection.dialect.name),
                )
                .group_by(LEADS.c.owner)
            )
        }
    return routing.Router(
        rules,
        [
            routing.Seller(s.handle, s.capacity, s.active, loads.get(s.handle, 0), s.team)
            for s in sellers
        ],
    )


def records_of(connection: Connection, leads: Sequence[Mapping[str, Any]]) -> list[Records]:
    """Each lead with its contact and account, as conditions read them (scoring.values)."""
    dialect = connection.dialect.name
    contact_ids = {r["parent_contact_id"] for r in leads if r["parent_contact_id"] is not None}
    contacts: dict[int, dict[str, Any]] = {}
    if contact_ids:
        query = select(CONTACTS).where(in_values(CONTACTS.c.id, contact_ids, dialect))
        contacts = {r["id"]: dict(r) for r in connection.execute(query).mappings()}

    def account_of(lead: Mapping[str, Any]) -> int | None:
        if lead["parent_account_id"] is not None:
            return int(lead["parent_account_id"])
        contact = contacts.get(lead["parent_contact_id"])
        return contact["account_id"] if contact is not None else None

    account_ids = {a for a in map(account_of, leads) if a is not None}
    accounts: dict[int, dict[str, Any]] = {}
    if account_ids:
        query = select(ACCOUNTS).where(in_values(ACCOUNTS.c.id, account_ids, dialect))
        accounts = {r["id"]: dict(r) for r in connection.execute(query).mappings()}
    found: list[Records] = []
    for lead in leads:
        account = account_of(lead)
        found.append(
            {
                "lead": dict(lead),
                "contact": contacts.get(lead["parent_contact_id"]),
                "account": accounts.get(account) if account is not None else None,
            }
        )
    return found


# -- assigning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assigned:
    lead_id: int
    owner: str
    rule_id: int
    strategy: str
    reason: str


SET_OWNER = (
    update(LEADS)
    .where(LEADS.c.id == bindparam("lead_id"))
    .values(
        owner=bindparam("new_owner"),
        version=LEADS.c.version + 1,
        updated_at=bindparam("now"),
    )
)
MOVE_CURSOR = (
    update(RULES).where(RULES.c.id == bindparam("rule_id")).values(cursor=bindparam("handle"))
)


def route(
    connection: Connection,
    catalog: bpf.Catalog,
    lead_ids: Collection[int],
    actor: Actor,
    now: dt.datetime,
) -> list[Assigned]:
    """Give an owner to each of these leads that waits for one, in the caller's write
    transaction (which holds the leads): the hook of every change that can make a lead wait.
    Leads nobody can take stay waiting, in the unassigned queue."""
    ids = sorted(set(lead_ids))
    found: routing.Router | None = None
    assigned: list[Assigned] = []
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        query = (
            select(LEADS)
            .where(in_values(LEADS.c.id, chunk, connection.dialect.name), waiting(catalog))
            .order_by(LEADS.c.id)
        )
        rows = list(connection.execute(query).mappings())
        if not rows:
            continue
        if found is None:
            found = router(connection, lock=True)
            if found is None:
                return []
        assigned += _assign(connection, found, rows, actor, now)
    return assigned


def route_waiting(connection: Connection, catalog: bpf.Catalog, actor: Actor) -> list[Assigned]:
    """Try again to give the waiting leads an owner, oldest first, while anyone can take one:
    after a seller is added, gains capacity or comes back, a rule changes, or an owned lead
    closes; and when asked (POST /api/queues/unassigned/route)."""
    found = router(connection, lock=True)
    if found is None:
        return []
    now = utcnow()
    assigned: list[Assigned] = []
    after = 0
    while found.free > 0:
        query = (
            select(LEADS)
            .where(waiting(catalog), LEADS.c.id > after)
            .order_by(LEADS.c.id)
            .limit(BATCH)
            .with_for_update(of=LEADS, key_share=True, skip_locked=True)
        )
        rows = list(connection.execute(query).mappings())
        if not rows:
            break
        assigned += _assign(connection, found, rows, actor, now)
        after = rows[-1]["id"]
    return assigned


def _assign(
    connection: Connection,
    found: routing.Router,
    leads: Sequence[Mapping[str, Any]],
    actor: Actor,
    now: dt.datetime,
) -> list[Assigned]:
    if not leads:
        return []
    before = dict(found.cursors)
    assigned: list[Assigned] = []
    for lead, records in zip(leads, records_of(connection, leads), strict=True):
        decision = found.assign(records)
        if decision.seller is None or decision.rule is None:
            continue
        assigned.append(
            Assigned(
                lead["id"],
                decision.seller,
                decision.rule.id,
                decision.rule.strategy.value,
                decision.reason,
            )
        )
    if not assigned:
        return []
    connection.execute(
        SET_OWNER, [{"lead_id": a.lead_id, "new_owner": a.owner, "now": now} for a in assigned]
    )
    read = {lead["id"]: lead for lead in leads}
    audit.record(
        connection,
        Entity.LEAD,
        [(a.lead_id, read[a.lead_id], {"owner": a.owner}) for a in assigned],
        actor,
        now,
    )
    seller_ids = _seller_ids(connection, {a.owner for a in assigned})
    names = {r.id: r.name for r in found.rules}
    _record(
        connection,
        [
            {
                "lead_id": a.lead_id,
                "owner": a.owner,
                "previous_owner": None,
                "seller_id": seller_ids.get(a.owner),
                "rule_id": a.rule_id,
                "rule_name": names[a.rule_id],
                "strategy": a.strategy,
                "reason": a.reason,
                "actor": actor.kind.value,
                "actor_name": actor.name,
                "at": now,
            }
            for a in assigned
        ],
        actor,
    )
    moved = [
        {"rule_id": rule_id, "handle": handle}
        for rule_id, handle in found.cursors.items()
        if handle != before.get(rule_id)
    ]
    if moved:
        connection.execute(MOVE_CURSOR, moved)
    return assigned


def record_by_hand(
    connection: Connection,
    changes: Sequence[tuple[int, str | None, str | None]],
    actor: Actor,
    now: dt.datetime,
    *,
    strategy: str = MANUAL,
    reason: str | None = None,
) -> None:
    """Owners set or cleared by a person (by hand, in an import, or a lead taken or handed
    off: the `strategy`), each change a lead's id, its previous owner and its new one, with the
    person's `reason`: recorded like assignments. A hand-set owner that names a seller counts
    toward that seller's load like any other."""
    if not changes:
        return
    seller_ids = _seller_ids(connection, {owner for _, _, owner in changes if owner is not None})
    _record(
        connection,
        [
            {
                "lead_id": lead_id,
                "owner": owner,
                "previous_owner": previous,
                "seller_id": seller_ids.get(owner) if owner is not None else None,
                "rule_id": None,
                "rule_name": None,
                "strategy": strategy,
                "reason": _by_hand(owner, seller_ids) if reason is None else reason,
                "actor": actor.kind.value,
                "actor_name": actor.name,
                "at": now,
            }
            for lead_id, previous, owner in changes
        ],
        actor,
    )


def _by_hand(owner: str | None, seller_ids: Mapping[str, int]) -> str:
    if owner is None:
        return "the owner was cleared by hand"
    if owner in seller_ids:
        return f"set by hand to seller {owner}"
    return f"set by hand to {owner}, who is not a seller"


def _record(connection: Connection, rows: list[dict[str, Any]], actor: Actor) -> None:
    """Keep the assignments in the leads' history, announce them (lead.assigned), and let the
    leads' open activities follow their new owners."""
    connection.execute(insert(ASSIGNMENTS), rows)
    activity_rows.follow(
        connection,
        [(row["lead_id"], row["previous_owner"], row["owner"]) for row in rows],
        actor,
        rows[0]["at"],
    )
    outbox.emit(
        connection,
        EventType.LEAD_ASSIGNED,
        [
            {
                "lead_id": row["lead_id"],
                "owner": row["owner"],
                "previous_owner": row["previous_owner"],
                "rule": None if row["rule_id"] is None else row["rule_name"],
                "strategy": row["strategy"],
                "reason": row["reason"],
                "actor": outbox.actor_data(row["actor"], row["actor_name"]),
            }
            for row in rows
        ],
        now=rows[0]["at"] if rows else None,
    )


def check_owner(
    connection: Connection, handle: str, field: str, *, exceed_capacity: bool = False
) -> None:
    """The seller a person gives a lead: an active seller (else 422 naming `field`), within
    capacity unless `exceed_capacity` (else 409 naming the seller and capacity). Locks the
    seller, then the rules, until the transaction ends (the module's note)."""
    seller = locked_seller(connection, handle)
    problem = _owner_problem(handle, None if seller is None else seller.active)
    if problem is not None:
        raise InvalidInput.field(field, problem)
    assert seller is not None
    check_capacity(connection, seller, exceed_capacity=exceed_capacity)


def owner_problems(connection: Connection, handles: Collection[str]) -> dict[str, str]:
    """What keeps each of the handles from owning a lead: no such seller, or one not active."""
    if not handles:
        return {}
    query = select(SELLERS.c.handle, SELLERS.c.active).where(SELLERS.c.handle.in_(sorted(handles)))
    active = {str(handle): bool(flag) for handle, flag in connection.execute(query)}
    found = {handle: _owner_problem(handle, active.get(handle)) for handle in handles}
    return {handle: problem for handle, problem in found.items() if problem is not None}


def _owner_problem(handle: str, active: bool | None) -> str | None:
    if active is None:
        return f"there is no seller '{handle}'"
    return None if active else f"the seller '{handle}' is not active"


def locked_seller(connection: Connection, handle: str) -> Row[Any] | None:
    query = select(SELLERS).where(SELLERS.c.handle == handle).with_for_update()
    return connection.execute(query).first()


def check_capacity(connection: Connection, seller: Row[Any], *, exceed_capacity: bool) -> None:
    connection.execute(select(RULES.c.id).with_for_update()).all()
    load = connection.execute(
        select(func.count()).where(
            LEADS.c.owner == seller.handle, LEADS.c.status == LeadStatus.OPEN.value
        )
    ).scalar_one()
    if load >= seller.capacity and not exceed_capacity:
        raise Conflict(
            f"the seller '{seller.handle}' owns {load} open leads, their capacity is "
            f"{seller.capacity}",
            slug="seller-at-capacity",
            title="Seller at capacity",
            seller=seller.handle,
            capacity=seller.capacity,
            load=load,
        )


def _seller_ids(connection: Connection, handles: Collection[str]) -> dict[str, int]:
    if not handles:
        return {}
    query = select(SELLERS.c.handle, SELLERS.c.id).where(SELLERS.c.handle.in_(sorted(handles)))
    return {str(handle): int(ident) for handle, ident in connection.execute(query)}
