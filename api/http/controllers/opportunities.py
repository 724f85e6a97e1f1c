"""Disposition of leads (/api/leads/{id}/qualify, /disqualify, /reopen, /dispositions) and the
opportunities qualified leads became (/api/opportunities): edited while open, won, lost,
reopened, with their history and audit."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

import bpf
from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.params import Cursor, IfMatch, Limit, QueryId, RecordId
from api.http.state import services
from api.services import access
from api.services import disposition as service
from api.services import opportunities as opportunity_service
from api.services.disposition import Outcome
from api.services.keys import Principal, Role
from api.services.schemas.activities import ActivityRead
from api.services.schemas.audit import AuditEntryRead, AuditPage
from api.services.schemas.leads import LeadOutcome, LeadRead
from api.services.schemas.opportunities import (
    DispositionPage,
    DispositionRead,
    DispositionResult,
    DisqualifyRequest,
    LoseRequest,
    OpportunityHistoryPage,
    OpportunityPage,
    OpportunityRead,
    OpportunityReopenRequest,
    OpportunityStatusChangeRead,
    OpportunityUpdate,
    QualifyRequest,
    ReopenRequest,
    WinRequest,
)
from api.storage.db import Database
from api.storage.locking import Expected
from bpf.actors import Actor
from leads.opportunities import Opportunity, OpportunityStatus

READERS = roles(*EVERYONE)
WORKERS = roles(Role.TELEPROSPECTOR, Role.SALESPERSON)


def _answer(
    catalog: bpf.Catalog, outcome: Outcome, status_code: int = 200
) -> Response[DispositionResult]:
    """The result, with the lead's new ETag: the lead is what the request changed."""
    lead, made = outcome.lead, outcome.opportunity
    read = LeadRead.of(lead, catalog.processes[lead.process].missing_steps(lead))
    read.opportunity = LeadOutcome.of(made) if made is not None else None
    result = DispositionResult(
        lead=read,
        disposition=DispositionRead.of(outcome.disposition),
        opportunity=OpportunityRead.of(outcome.opportunity) if outcome.opportunity else None,
        canceled_activities=[ActivityRead.of(a) for a in outcome.canceled],
    )
    headers = {"ETag": etag(lead.version)}
    if outcome.opportunity is not None:
        headers["Location"] = f"/api/opportunities/{outcome.opportunity.id}"
    return Response(result, status_code=status_code, headers=headers)


class DispositionController(Controller):
    path = "/api/leads"
    tags = ["leads"]

    @post("/{lead_id:int}/qualify", opt=WORKERS, sync_to_thread=True, operation_id="QualifyLead")
    def qualify(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
        data: JSONBody[QualifyRequest],
        if_match: IfMatch = None,
    ) -> Response[DispositionResult]:
        """Qualify an open lead: an opportunity is made with its contact, account and owner, the
        lead becomes qualified, and its open activities are canceled ("lead closed")."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        actor = Actor.user(request.user)
        outcome = service.qualify(db, catalog, scope, lead_id, expected(if_match), data, actor)
        return _answer(catalog, outcome, 201)

    @post(
        "/{lead_id:int}/disqualify",
        opt=WORKERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="DisqualifyLead",
    )
    def disqualify(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
        data: JSONBody[DisqualifyRequest],
        if_match: IfMatch = None,
    ) -> Response[DispositionResult]:
        """Disqualify an open lead with a reason; its open activities are canceled."""
        db, catalog = services(request).db, services(request).catalog
        scope, actor = access.scope(request.user, catalog), Actor.user(request.user)
        outcome = service.disqualify(db, catalog, scope, lead_id, expected(if_match), data, actor)
        return _answer(catalog, outcome)

    @post(
        "/{lead_id:int}/reopen",
        opt=WORKERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="ReopenLead",
    )
    def reopen(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
        data: JSONBody[ReopenRequest | None] = None,
        if_match: IfMatch = None,
    ) -> Response[DispositionResult]:
        """Open a disqualified lead again, in the stage it was in."""
        db, catalog = services(request).db, services(request).catalog
        scope, actor = access.scope(request.user, catalog), Actor.user(request.user)
        outcome = service.reopen(
            db, catalog, scope, lead_id, expected(if_match), data or ReopenRequest(), actor
        )
        return _answer(catalog, outcome)

    @get(
        "/{lead_id:int}/dispositions",
        opt=READERS,
        sync_to_thread=True,
        operation_id="LeadDispositions",
    )
    def dispositions(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> DispositionPage:
        """Who qualified, disqualified or reopened the lead, when and why; oldest first."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        found, next_cursor = service.dispositions(db, scope, lead_id, limit, cursor)
        return DispositionPage(
            items=[DispositionRead.of(d) for d in found], next_cursor=next_cursor
        )


class OpportunityController(Controller):
    path = "/api/opportunities"
    tags = ["opportunities"]

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListOpportunities")
    def list(
        self,
        request: Request[Principal, Any, State],
        lead_id: QueryId = None,
        account_id: QueryId = None,
        contact_id: QueryId = None,
        owner: Annotated[str | None, QueryParameter(max_length=200)] = None,
        status: Annotated[OpportunityStatus | None, QueryParameter()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> OpportunityPage:
        """List opportunities in id order, filtered, a page at a time."""
        db, catalog = services(request).db, services(request).catalog
        found, next_cursor = opportunity_service.list_opportunities(
            db,
            access.scope(request.user, catalog),
            lead_id=lead_id,
            account_id=account_id,
            contact_id=contact_id,
            owner=owner,
            status=status,
            limit=limit,
            cursor=cursor,
        )
        return OpportunityPage(
            items=[OpportunityRead.of(o) for o in found], next_cursor=next_cursor
        )

    @get("/{opportunity_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetOpportunity")
    def read(
        self, request: Request[Principal, Any, State], opportunity_id: RecordId
    ) -> Response[OpportunityRead]:
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        return _opportunity(opportunity_service.get_opportunity(db, scope, opportunity_id))

    @patch(
        "/{opportunity_id:int}", opt=WORKERS, sync_to_thread=True, operation_id="UpdateOpportunity"
    )
    def update(
        self,
        request: Request[Principal, Any, State],
        opportunity_id: RecordId,
        data: JSONBody[OpportunityUpdate],
        if_match: IfMatch = None,
    ) -> Response[OpportunityRead]:
        """Change the name, estimated value, currency or estimated close date of an open
        opportunity."""
        db, scope, actor, version = _call(request, if_match)
        changed = opportunity_service.update(db, scope, opportunity_id, version, data, actor)
        return _opportunity(changed)

    @post(
        "/{opportunity_id:int}/win",
        opt=WORKERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="WinOpportunity",
    )
    def win(
        self,
        request: Request[Principal, Any, State],
        opportunity_id: RecordId,
        data: JSONBody[WinRequest],
        if_match: IfMatch = None,
    ) -> Response[OpportunityRead]:
        """The open opportunity is won, for its actual value, on a day (today if absent)."""
        db, scope, actor, version = _call(request, if_match)
        won = opportunity_service.win(db, scope, opportunity_id, version, data, actor)
        return _opportunity(won)

    @post(
        "/{opportunity_id:int}/lose",
        opt=WORKERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="LoseOpportunity",
    )
    def lose(
        self,
        request: Request[Principal, Any, State],
        opportunity_id: RecordId,
        data: JSONBody[LoseRequest],
        if_match: IfMatch = None,
    ) -> Response[OpportunityRead]:
        """The open opportunity is lost, for one of the lost reasons of stages.yaml."""
        db, scope, actor, version = _call(request, if_match)
        catalog = services(request).catalog
        lost = opportunity_service.lose(db, catalog, scope, opportunity_id, version, data, actor)
        return _opportunity(lost)

    @post(
        "/{opportunity_id:int}/reopen",
        opt=WORKERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="ReopenOpportunity",
    )
    def reopen(
        self,
        request: Request[Principal, Any, State],
        opportunity_id: RecordId,
        data: JSONBody[OpportunityReopenRequest],
        if_match: IfMatch = None,
    ) -> Response[OpportunityRead]:
        """A won or lost opportunity is open again, saying why."""
        db, scope, actor, version = _call(request, if_match)
        opened = opportunity_service.reopen(db, scope, opportunity_id, version, data, actor)
        return _opportunity(opened)

    @get(
        "/{opportunity_id:int}/history",
        opt=READERS,
        sync_to_thread=True,
        operation_id="OpportunityHistory",
    )
    def history(
        self,
        request: Request[Principal, Any, State],
        opportunity_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> OpportunityHistoryPage:
        """Who won, lost or reopened it, when, why and with what values; oldest first."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        found, next_cursor = opportunity_service.history(db, scope, opportunity_id, limit, cursor)
        items = [OpportunityStatusChangeRead.of(c) for c in found]
        return OpportunityHistoryPage(items=items, next_cursor=next_cursor)

    @get(
        "/{opportunity_id:int}/audit",
        opt=READERS,
        sync_to_thread=True,
        operation_id="OpportunityAudit",
    )
    def audit(
        self,
        request: Request[Principal, Any, State],
        opportunity_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Every change to its fields, newest first: who, when, old and new value."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        entries, next_cursor = opportunity_service.audit_entries(
            db, scope, opportunity_id, limit, cursor
        )
        return AuditPage(items=[AuditEntryRead.of(e) for e in entries], next_cursor=next_cursor)


def _call(
    request: Request[Principal, Any, State], if_match: str | None
) -> tuple[Database, access.Scope, Actor, Expected | None]:
    """What a change of an opportunity needs: the database, the caller's scope, the actor and
    the version it was made on."""
    db, catalog = services(request).db, services(request).catalog
    return db, access.scope(request.user, catalog), Actor.user(request.user), expected(if_match)


def _opportunity(opportunity: Opportunity) -> Response[OpportunityRead]:
    return Response(OpportunityRead.of(opportunity), headers={"ETag": etag(opportunity.version)})
