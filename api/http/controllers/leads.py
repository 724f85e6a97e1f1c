"""/api/leads: create, read, list and update leads, move them, and read their history."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

import bpf
from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.params import Cursor, IfMatch, Limit, RecordId
from api.http.state import services
from api.services import access
from api.services import leads as service
from api.services.keys import Principal, Role
from api.services.leads import LeadFilter
from api.services.schemas.audit import AuditEntryRead, AuditPage
from api.services.schemas.leads import (
    HistoryPage,
    LeadCreate,
    LeadPage,
    LeadRead,
    LeadUpdate,
    MoveRequest,
    StageChangeRead,
)
from bpf.actors import Actor
from leads.errors import InvalidInput
from leads.models import Lead, LeadRow, LeadStatus

OWNER_BY_HAND = (
    "only an admin sets a lead's owner by hand; leads go to sellers through the assignment "
    "rules (/api/assignment-rules) and the unassigned queue"
)
EDITORS = roles(Role.MARKETER, Role.TELEPROSPECTOR, Role.SALESPERSON, Role.SERVICE)


def _answer(
    catalog: bpf.Catalog, lead: Lead | LeadRow, status_code: int = 200
) -> Response[LeadRead]:
    read = LeadRead.of(lead, catalog.processes[lead.process].missing_steps(lead))
    return Response(read, status_code=status_code, headers={"ETag": etag(read.version)})


class LeadController(Controller):
    path = "/api/leads"
    tags = ["leads"]

    @post("/", opt=EDITORS, sync_to_thread=True, operation_id="CreateLead")
    def create(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[LeadCreate],
    ) -> Response[LeadRead]:
        """Create a lead in the first stage of its process (the default process if none given)."""
        db, catalog = services(request).db, services(request).catalog
        lead = service.create_lead(db, catalog, data, Actor.user(request.user))
        return _answer(catalog, lead, 201)

    @get("/", opt=roles(*EVERYONE), sync_to_thread=True, operation_id="ListLeads")
    def list(
        self,
        request: Request[Principal, Any, State],
        process: Annotated[str | None, QueryParameter(max_length=64)] = None,
        stage: Annotated[str | None, QueryParameter(max_length=64)] = None,
        status: Annotated[LeadStatus | None, QueryParameter()] = None,
        owner: Annotated[str | None, QueryParameter(max_length=200)] = None,
        sales_ready: Annotated[bool | None, QueryParameter()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> LeadPage:
        """List leads in id order, filtered, a page at a time."""
        db, catalog = services(request).db, services(request).catalog
        where = LeadFilter(process, stage, status, owner, sales_ready)
        scope = access.scope(request.user, catalog)
        leads, next_cursor = service.list_leads(db, scope, where, limit, cursor)
        items = [LeadRead.of(x, catalog.processes[x.process].missing_steps(x)) for x in leads]
        return LeadPage(items=items, next_cursor=next_cursor)

    @get("/{lead_id:int}", opt=roles(*EVERYONE), sync_to_thread=True, operation_id="GetLead")
    def read(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
    ) -> Response[LeadRead]:
        db, catalog = services(request).db, services(request).catalog
        return _answer(catalog, service.get_lead(db, access.scope(request.user, catalog), lead_id))

    @patch("/{lead_id:int}", opt=EDITORS, sync_to_thread=True, operation_id="UpdateLead")
    def update(
        self,
        request: Request[Principal, Any, Any],
        lead_id: RecordId,
        data: JSONBody[LeadUpdate],
        if_match: IfMatch = None,
    ) -> Response[LeadRead]:
        """Change fields. A boolean step field that becomes true fires the automations
        waiting for it (marking a lead sales ready hands it to sales)."""
        db, catalog = services(request).db, services(request).catalog
        if "owner" in data.model_fields_set and request.user.role is not Role.ADMIN:
            raise InvalidInput.field("owner", OWNER_BY_HAND)
        scope = access.scope(request.user, catalog)
        actor = Actor.user(request.user)
        lead = service.update_lead(db, catalog, scope, lead_id, expected(if_match), data, actor)
        return _answer(catalog, lead)

    @post(
        "/{lead_id:int}/stage",
        opt=EDITORS,
        sync_to_thread=True,
        status_code=200,
        operation_id="MoveLead",
    )
    def move(
        self,
        request: Request[Principal, Any, Any],
        lead_id: RecordId,
        data: JSONBody[MoveRequest],
        if_match: IfMatch = None,
    ) -> Response[LeadRead]:
        """Complete the stage (`{"action": "next"}`), fire a trigger, switch to a stage
        (`{"to": ..., "reason": ...}`) or to another process. A move not allowed from the
        lead's stage gets 409 with the moves that are."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        actor = Actor.user(request.user)
        lead = service.move_lead(db, catalog, scope, lead_id, expected(if_match), data, actor)
        return _answer(catalog, lead)

    @get(
        "/{lead_id:int}/history",
        opt=roles(*EVERYONE),
        sync_to_thread=True,
        operation_id="LeadHistory",
    )
    def history(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> HistoryPage:
        """Every move of the lead, oldest first."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        changes, next_cursor = service.lead_history(db, scope, lead_id, limit, cursor)
        return HistoryPage(items=[StageChangeRead.of(c) for c in changes], next_cursor=next_cursor)

    @get(
        "/{lead_id:int}/audit",
        opt=roles(*EVERYONE),
        sync_to_thread=True,
        operation_id="LeadAudit",
    )
    def audit(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Every change to the lead's fields, newest first: who, when, old and new value."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        entries, next_cursor = service.lead_audit(db, scope, lead_id, limit, cursor)
        return AuditPage(items=[AuditEntryRead.of(e) for e in entries], next_cursor=next_cursor)
