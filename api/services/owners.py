"""Owners who act: a person takes a lead of a queue they work, or hands a lead they own to a
teammate (`assignment.check_owner`: an active seller, within capacity).

Each is one write transaction under the lead's lock and `If-Match`: the lead is read locked,
then the seller (`FOR UPDATE`), then the assignment rules, the order routing keeps (leads, then
rules; a seller changed by an admin takes the seller, then the rules, and skips locked leads),
so that no two takes, and no take and a routing, put a seller past capacity. The owner is
written as every lead is (`lead_writes.store`: version, audit, lead.updated), recorded as an
assignment with its reason (`assignment.record_by_hand`: lead.assigned, the lead's open
activities follow).
"""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlmodel import Session

import bpf
from api.services import access, assignment, lead_writes, queues
from api.services.activities import lead_not_open
from api.services.assignment import LEADS, SELLERS
from api.services.keys import Principal, Role
from api.services.schemas.owners import HandOffRequest, TakeRequest
from api.services.scoring import evaluation
from api.storage.db import Database
from api.storage.locking import Expected
from bpf.actors import Actor
from leads.errors import Conflict, InvalidInput
from leads.models import Lead, LeadStatus
from leads.types import utcnow

# The queues a role takes leads from: (name, which leads it holds).
QUEUES: dict[Role, tuple[tuple[str, queues.Queue], ...]] = {
    Role.SALESPERSON: (("sales", queues.sales),),
    Role.TELEPROSPECTOR: (("teleprospecting", queues.teleprospecting),),
    Role.ADMIN: (("sales", queues.sales), ("teleprospecting", queues.teleprospecting)),
}


def take(
    db: Database,
    catalog: bpf.Catalog,
    principal: Principal,
    lead_id: int,
    expected: Expected | None,
    data: TakeRequest,
) -> Lead:
    """The lead, without an owner in a queue the caller works, becomes the caller's seller's."""
    handle = principal.seller
    with db.write() as session:
        lead = access.locked_lead(session, access.scope(principal, catalog), lead_id, expected)
        if lead.status != LeadStatus.OPEN.value:
            raise lead_not_open(lead, "be taken")
        if lead.owner is not None:
            raise _owned(lead, handle)
        connection = session.connection()
        _check_queued(connection, catalog, principal.role, lead_id)
        seller = None if handle is None else assignment.locked_seller(connection, handle)
        if handle is None or seller is None or not seller.active:
            raise _not_a_seller(principal)
        assignment.check_capacity(connection, seller, exceed_capacity=False)
        reason = data.reason or f"taken from the queue by {handle}"
        actor = Actor.user(principal)
        _set_owner(session, catalog, lead, handle, actor, assignment.TAKE, reason)
    return lead


def _not_a_seller(principal: Principal) -> Conflict:
    if principal.seller is None:
        return Conflict(
            f"the API key '{principal.name}' acts for no seller, so it cannot own a lead; "
            "create one with `leadflow keys create --seller HANDLE`",
            slug="no-seller",
            title="Key acts for no seller",
            seller=None,
        )
    return Conflict(
        f"the API key acts for '{principal.seller}', who is not an active seller",
        slug="seller-inactive",
        title="Seller not active",
        seller=principal.seller,
    )


def _owned(lead: Lead, handle: str | None) -> Conflict:
    whose = "you own it already" if lead.owner == handle else f"'{lead.owner}' owns it"
    return Conflict(
        f"lead {lead.id} has an owner: {whose}; only a lead without one can be taken",
        slug="lead-owned",
        title="Lead has an owner",
        owner=lead.owner,
    )


def _check_queued(connection: Connection, catalog: bpf.Catalog, role: Role, lead_id: int) -> None:
    worked = QUEUES.get(role, ())
    for _, which in worked:
        query = select(LEADS.c.id).where(LEADS.c.id == lead_id, which(catalog))
        if connection.execute(query).first() is not None:
            return
    names = ", ".join(name for name, _ in worked) or "none"
    raise Conflict(
        f"lead {lead_id} is in no queue you take leads from ({names})",
        slug="lead-not-queued",
        title="Lead not in your queues",
        queues=[name for name, _ in worked],
    )


def hand_off(
    db: Database,
    catalog: bpf.Catalog,
    principal: Principal,
    lead_id: int,
    expected: Expected | None,
    data: HandOffRequest,
) -> Lead:
    """The lead goes from its owner (the caller, or anyone's for an admin) to `data.to`."""
    admin = principal.role is Role.ADMIN
    if data.exceed_capacity and not admin:
        raise InvalidInput.field(
            "exceed_capacity", "only an admin sets a lead's owner past a seller's capacity"
        )
    with db.write() as session:
        lead = access.locked_lead(session, access.scope(principal, catalog), lead_id, expected)
        if lead.status != LeadStatus.OPEN.value:
            raise lead_not_open(lead, "be handed off")
        if not admin and (principal.seller is None or lead.owner != principal.seller):
            raise Conflict(
                f"lead {lead_id} is owned by {lead.owner or 'nobody'}; only its owner hands it off",
                slug="not-lead-owner",
                title="Not the lead's owner",
                owner=lead.owner,
            )
        if data.to == lead.owner:
            raise InvalidInput.field("to", f"'{data.to}' owns the lead already")
        connection = session.connection()
        if not admin:
            _check_teammate(connection, lead.owner, data.to)
        assignment.check_owner(connection, data.to, "to", exceed_capacity=data.exceed_capacity)
        actor, previous = Actor.user(principal), lead.owner
        _set_owner(session, catalog, lead, data.to, actor, assignment.HAND_OFF, data.reason)
        if previous is not None:
            # The previous owner has room for one more: the waiting leads may go to them.
            assignment.route_waiting(connection, catalog, actor)
    return lead


def _check_teammate(connection: Connection, owner: str | None, to: str) -> None:
    teams = dict(
        connection.execute(
            select(SELLERS.c.handle, SELLERS.c.team).where(SELLERS.c.handle.in_([owner, to]))
        ).all()
    )
    team = teams.get(owner)
    if to in teams and (team is None or teams[to] != team):
        where = f"team '{team}'" if team else "no team"
        raise InvalidInput.field("to", f"'{to}' is not a seller of your team ({where})")


def _set_owner(
    session: Session,
    catalog: bpf.Catalog,
    lead: Lead,
    owner: str,
    actor: Actor,
    strategy: str,
    reason: str,
) -> None:
    """Write the new owner as every lead is written and record it as an assignment; `lead`
    is read again."""
    assert lead.id is not None
    connection = session.connection()
    previous, now = lead.owner, utcnow()
    draft = lead_writes.Draft.of(lead.model_dump())
    lead_writes.change(catalog, draft, {"owner": owner}, now)
    lead_writes.store(connection, catalog, [draft], actor, now)
    assignment.record_by_hand(
        connection, [(lead.id, previous, owner)], actor, now, strategy=strategy, reason=reason
    )
    if evaluation.reads_any(connection, {"lead.owner"}):
        evaluation.rescore(session, catalog, lead_ids=[lead.id], now=now)
    session.refresh(lead)
