"""/api/sellers, /api/assignment-rules, the work queues (/api/queues) and the assignments of a
lead."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

import bpf
from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.params import MAX_ID, Cursor, IfMatch, Limit, RecordId
from api.http.problems import Problem
from api.http.state import services
from api.services import access
from api.services import leads as lead_service
from api.services import queues as queue_service
from api.services import sellers as seller_service
from api.services.keys import Principal, Role
from api.services.queues import Sort
from api.services.schemas.leads import LeadRead
from api.services.schemas.sellers import (
    AssignmentPage,
    AssignmentRead,
    NextActivity,
    QueueContact,
    QueueItem,
    QueuePage,
    QueueScore,
    RoutedLead,
    RouteResult,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    SellerCreate,
    SellerPage,
    SellerRead,
    SellerUpdate,
    WaitingItem,
    WaitingPage,
)
from api.storage.db import Database
from bpf.actors import Actor
from leads.sellers import AssignmentRule, Seller
from leads.types import utcnow

ADMINS = roles()
READERS = roles(*EVERYONE)
WORKERS = roles(Role.TELEPROSPECTOR, Role.SALESPERSON)


def _seller(found: tuple[Seller, int], status_code: int = 200) -> Response[SellerRead]:
    seller, load = found
    return Response(
        SellerRead.of(seller, load), status_code=status_code, headers={"ETag": etag(seller.version)}
    )


def _rule(rule: AssignmentRule, status_code: int = 200) -> Response[RuleRead]:
    headers = {"ETag": etag(rule.version)}
    return Response(RuleRead.of(rule), status_code=status_code, headers=headers)


class SellerController(Controller):
    path = "/api/sellers"
    tags = ["assignment"]

    @post("/", opt=ADMINS, sync_to_thread=True, operation_id="CreateSeller")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[SellerCreate]
    ) -> Response[SellerRead]:
        """A new seller. Waiting leads they can take are routed to them at once."""
        db, catalog = services(request).db, services(request).catalog
        found = seller_service.create_seller(db, catalog, data, Actor.user(request.user))
        return _seller(found, 201)

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListSellers")
    def list(
        self,
        request: Request[Principal, Any, State],
        team: Annotated[str | None, QueryParameter(max_length=100)] = None,
        active: Annotated[bool | None, QueryParameter()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> SellerPage:
        db = services(request).db
        found, next_cursor = seller_service.list_sellers(db, team, active, limit, cursor)
        return SellerPage(items=[SellerRead.of(s, n) for s, n in found], next_cursor=next_cursor)

    @get("/{seller_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetSeller")
    def read(
        self, request: Request[Principal, Any, State], seller_id: RecordId
    ) -> Response[SellerRead]:
        return _seller(seller_service.get_seller(services(request).db, seller_id))

    @patch("/{seller_id:int}", opt=ADMINS, sync_to_thread=True, operation_id="UpdateSeller")
    def update(
        self,
        request: Request[Principal, Any, State],
        seller_id: RecordId,
        data: JSONBody[SellerUpdate],
        if_match: IfMatch = None,
    ) -> Response[SellerRead]:
        """Change a seller; `{"active": false}` deactivates them. More capacity, a new team or
        coming back routes the waiting leads again."""
        db, catalog = services(request).db, services(request).catalog
        actor = Actor.user(request.user)
        return _seller(
            seller_service.update_seller(db, catalog, seller_id, expected(if_match), data, actor)
        )


class AssignmentRuleController(Controller):
    path = "/api/assignment-rules"
    tags = ["assignment"]

    @post("/", opt=ADMINS, sync_to_thread=True, operation_id="CreateAssignmentRule")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[RuleCreate]
    ) -> Response[RuleRead]:
        """A rule, at `position` (default: last). Rules are tried in order; the first whose
        conditions hold chooses the lead's seller."""
        db, catalog = services(request).db, services(request).catalog
        rule = seller_service.create_rule(db, catalog, data, Actor.user(request.user))
        return _rule(rule, 201)

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListAssignmentRules")
    def list(self, request: Request[Principal, Any, State]) -> list[RuleRead]:
        """Every rule, in the order they are tried."""
        return [RuleRead.of(r) for r in seller_service.list_rules(services(request).db)]

    @get("/{rule_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetAssignmentRule")
    def read(
        self, request: Request[Principal, Any, State], rule_id: RecordId
    ) -> Response[RuleRead]:
        return _rule(seller_service.get_rule(services(request).db, rule_id))

    @patch("/{rule_id:int}", opt=ADMINS, sync_to_thread=True, operation_id="UpdateAssignmentRule")
    def update(
        self,
        request: Request[Principal, Any, State],
        rule_id: RecordId,
        data: JSONBody[RuleUpdate],
        if_match: IfMatch = None,
    ) -> Response[RuleRead]:
        """Change a rule; a new `position` moves it and renumbers the others."""
        db, catalog = services(request).db, services(request).catalog
        actor = Actor.user(request.user)
        return _rule(
            seller_service.update_rule(db, catalog, rule_id, expected(if_match), data, actor)
        )

    @delete("/{rule_id:int}", opt=ADMINS, sync_to_thread=True, operation_id="DeleteAssignmentRule")
    def remove(
        self,
        request: Request[Principal, Any, State],
        rule_id: RecordId,
        if_match: IfMatch = None,
    ) -> None:
        seller_service.delete_rule(services(request).db, rule_id, expected(if_match))


def _mine(principal: Principal, mine: bool) -> str | None:
    if not mine:
        return None
    if principal.seller is None:
        # The key, not the request, lacks something: it was made without a seller.
        reason = (
            f"the API key '{principal.name}' acts for no seller, so it has no queue of its own; "
            "create one with `leadflow keys create --seller HANDLE`, or ask for mine=false"
        )
        errors = [{"field": "mine", "reason": reason}]
        raise Problem(403, "no-seller", "Forbidden", f"mine: {reason}", errors=errors)
    return principal.seller


def _queue_item(queued: queue_service.Queued, read: LeadRead, now: dt.datetime) -> QueueItem:
    lead, contact, due = queued.lead, queued.contact, queued.next_activity
    entered: dt.datetime = lead.values["stage_entered_at"]
    names = [contact[n] for n in ("first_name", "last_name") if contact and contact[n]]
    return QueueItem(
        lead=read,
        score=queued.score,
        qualified_at=entered,
        seconds_in_stage=max(0.0, (now - entered).total_seconds()),
        contact=QueueContact(
            id=contact["id"] if contact else None,
            name=" ".join(names) or None,
            company=contact["company"] if contact else None,
            email=(contact["email"] if contact else None) or lead.values["email"],
            phone=contact["phone"] if contact else None,
        ),
        scores=[QueueScore(**vars(score)) for score in queued.scores],
        next_activity=NextActivity(**{n: due[n] for n in NextActivity.model_fields})
        if due
        else None,
    )


def _queue_page(
    db: Database,
    catalog: bpf.Catalog,
    found: list[queue_service.Queued],
    next_cursor: str | None,
) -> QueuePage:
    now = utcnow()
    reads = lead_service.reads(db, catalog, [queued.lead for queued in found])
    items = [_queue_item(queued, read, now) for queued, read in zip(found, reads, strict=True)]
    return QueuePage(items=items, next_cursor=next_cursor)


Mine = Annotated[
    bool, QueryParameter(description="Only the leads of the seller the API key acts for.")
]
SortBy = Annotated[
    Sort,
    QueryParameter(description="score: highest first; qualified: longest in its stage first."),
]
Model = Annotated[
    int | None,
    QueryParameter(ge=1, le=MAX_ID, description="Sort by this model's score instead."),
]


def _queue(
    request: Request[Principal, Any, State],
    which: queue_service.Queue,
    mine: bool,
    sort: Sort,
    model: int | None,
    limit: int,
    cursor: str | None,
) -> QueuePage:
    db, catalog = services(request).db, services(request).catalog
    found, next_cursor = queue_service.queued_leads(
        db,
        catalog,
        which,
        access.scope(request.user, catalog),
        owner=_mine(request.user, mine),
        sort=sort,
        model_id=model,
        limit=limit,
        cursor=cursor,
    )
    return _queue_page(db, catalog, found, next_cursor)


class QueueController(Controller):
    path = "/api/queues"
    tags = ["assignment"]

    @get("/sales", opt=WORKERS, sync_to_thread=True, operation_id="SalesQueue")
    def sales(
        self,
        request: Request[Principal, Any, State],
        mine: Mine = False,
        sort: SortBy = Sort.SCORE,
        model: Model = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> QueuePage:
        """Open leads for sales: sales ready, or in a stage that routes to sales."""
        return _queue(request, queue_service.sales, mine, sort, model, limit, cursor)

    @get("/teleprospecting", opt=WORKERS, sync_to_thread=True, operation_id="TeleprospectingQueue")
    def teleprospecting(
        self,
        request: Request[Principal, Any, State],
        mine: Mine = False,
        sort: SortBy = Sort.SCORE,
        model: Model = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> QueuePage:
        """Open leads in the stages stages.yaml puts in the teleprospecting queue."""
        return _queue(request, queue_service.teleprospecting, mine, sort, model, limit, cursor)

    @get("/unassigned", opt=WORKERS, sync_to_thread=True, operation_id="UnassignedQueue")
    def unassigned(
        self,
        request: Request[Principal, Any, State],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> WaitingPage:
        """Leads waiting for an owner, oldest first, with why nobody takes them now."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        found, next_cursor = queue_service.unassigned(db, catalog, scope, limit, cursor)
        reads = lead_service.reads(db, catalog, [lead for lead, _ in found])
        return WaitingPage(
            items=[
                WaitingItem(lead=read, reason=reason)
                for read, (_, reason) in zip(reads, found, strict=True)
            ],
            next_cursor=next_cursor,
        )

    @post(
        "/unassigned/route",
        opt=ADMINS,
        sync_to_thread=True,
        status_code=200,
        operation_id="RouteUnassignedQueue",
    )
    def route(self, request: Request[Principal, Any, State]) -> RouteResult:
        """Route the waiting leads again, oldest first, while any seller can take one."""
        db, catalog = services(request).db, services(request).catalog
        assigned, left = seller_service.route_queue(db, catalog, Actor.user(request.user))
        return RouteResult(
            assigned=[
                RoutedLead(
                    lead_id=a.lead_id,
                    owner=a.owner,
                    rule_id=a.rule_id,
                    strategy=a.strategy,
                    reason=a.reason,
                )
                for a in assigned
            ],
            waiting=left,
        )


@get(
    "/api/leads/{lead_id:int}/assignments",
    opt=READERS,
    sync_to_thread=True,
    operation_id="LeadAssignments",
    tags=["assignment"],
)
def lead_assignments(
    request: Request[Principal, Any, State],
    lead_id: RecordId,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AssignmentPage:
    """Who the lead went to, oldest first: by which rule and strategy, why, and who set it."""
    db, catalog = services(request).db, services(request).catalog
    lead_service.get_lead(db, access.scope(request.user, catalog), lead_id)
    rows, next_cursor = seller_service.list_lead_assignments(db, lead_id, limit, cursor)
    return AssignmentPage(items=[AssignmentRead.of(r) for r in rows], next_cursor=next_cursor)
