"""Disposition of leads (/api/leads/{id}/qualify, /disqualify, /reopen, /dispositions) and the
opportunities qualified leads became (/api/opportunities)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
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
from api.services.schemas.leads import LeadRead
from api.services.schemas.opportunities import (
    DispositionPage,
    DispositionRead,
    DispositionResult,
    DisqualifyRequest,
    OpportunityPage,
    OpportunityRead,
    QualifyRequest,
    ReopenRequest,
)
from bpf.actors import Actor
from leads.opportunities import OpportunityStatus

READERS = roles(*EVERYONE)
WORKERS = roles(Role.TELEPROSPECTOR, Role.SALESPERSON)


def _answer(
    catalog: bpf.Catalog, outcome: Outcome, status_code: int = 200
) -> Response[DispositionResult]:
    """The result, with the lead's new ETag: the lead is what the request changed."""
    lead = outcome.lead
    result = DispositionResult(
        lead=LeadRead.of(lead, catalog.processes[lead.process].missing_steps(lead)),
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
        opportunity = opportunity_service.get_opportunity(db, scope, opportunity_id)
        return Response(
            OpportunityRead.of(opportunity), headers={"ETag": etag(opportunity.version)}
        )
