"""/api/leads: create, read, list and update leads, move them, and read their history."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

import bpf
from api import lead_service as service
from api import records
from api.auth import EVERYONE, allow
from api.controllers.params import Cursor, IfMatch, Limit
from api.db import Database
from api.keys import Principal, Role
from api.lead_service import Actor, LeadFilter
from api.schemas.leads import (
    HistoryPage,
    LeadCreate,
    LeadPage,
    LeadRead,
    LeadUpdate,
    MoveRequest,
    StageChangeRead,
)
from api.versioning import etag
from leads.models import Lead, LeadStatus

EDITORS = allow(Role.MARKETER, Role.TELEPROSPECTOR, Role.SALESPERSON, Role.SERVICE)


def _answer(catalog: bpf.Catalog, lead: Lead, status_code: int = 200) -> Response[LeadRead]:
    missing = catalog.processes[lead.process].missing_steps(lead)
    return Response(
        LeadRead.of(lead, missing), status_code=status_code, headers={"ETag": etag(lead.version)}
    )


class LeadController(Controller):
    path = "/api/leads"
    tags = ["leads"]

    @post("/", guards=[EDITORS], sync_to_thread=True, operation_id="CreateLead")
    def create(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[LeadCreate],
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
    ) -> Response[LeadRead]:
        """Create a lead in the first stage of its process (the default process if none given)."""
        lead = service.create_lead(db, catalog, data, Actor.user(request.user))
        return _answer(catalog, lead, 201)

    @get("/", guards=[allow(*EVERYONE)], sync_to_thread=True, operation_id="ListLeads")
    def list(
        self,
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
        process: Annotated[str | None, QueryParameter(max_length=64)] = None,
        stage: Annotated[str | None, QueryParameter(max_length=64)] = None,
        status: Annotated[LeadStatus | None, QueryParameter()] = None,
        owner: Annotated[str | None, QueryParameter(max_length=200)] = None,
        sales_ready: Annotated[bool | None, QueryParameter()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> LeadPage:
        """List leads in id order, filtered, a page at a time."""
        where = LeadFilter(process, stage, status, owner, sales_ready)
        leads, next_cursor = service.list_leads(db, where, limit, cursor)
        items = [LeadRead.of(x, catalog.processes[x.process].missing_steps(x)) for x in leads]
        return LeadPage(items=items, next_cursor=next_cursor)

    @get("/{lead_id:int}", guards=[allow(*EVERYONE)], sync_to_thread=True, operation_id="GetLead")
    def read(
        self,
        lead_id: FromPath[int],
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
    ) -> Response[LeadRead]:
        return _answer(catalog, records.get(db, Lead, lead_id, "lead"))

    @patch("/{lead_id:int}", guards=[EDITORS], sync_to_thread=True, operation_id="UpdateLead")
    def update(
        self,
        request: Request[Principal, Any, Any],
        lead_id: FromPath[int],
        data: JSONBody[LeadUpdate],
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
        if_match: IfMatch = None,
    ) -> Response[LeadRead]:
        """Change fields. A boolean step field that becomes true fires the automations
        waiting for it (marking a lead sales ready hands it to sales)."""
        lead = service.update_lead(db, catalog, lead_id, if_match, data, Actor.user(request.user))
        return _answer(catalog, lead)

    @post(
        "/{lead_id:int}/stage",
        guards=[EDITORS],
        sync_to_thread=True,
        status_code=200,
        operation_id="MoveLead",
    )
    def move(
        self,
        request: Request[Principal, Any, Any],
        lead_id: FromPath[int],
        data: JSONBody[MoveRequest],
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
        if_match: IfMatch = None,
    ) -> Response[LeadRead]:
        """Complete the stage (`{"action": "next"}`), fire a trigger, switch to a stage
        (`{"to": ..., "reason": ...}`) or to another process. A move not allowed from the
        lead's stage gets 409 with the moves that are."""
        lead = service.move_lead(db, catalog, lead_id, if_match, data, Actor.user(request.user))
        return _answer(catalog, lead)

    @get(
        "/{lead_id:int}/history",
        guards=[allow(*EVERYONE)],
        sync_to_thread=True,
        operation_id="LeadHistory",
    )
    def history(
        self,
        lead_id: FromPath[int],
        db: NamedDependency[Database],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> HistoryPage:
        """Every move of the lead, oldest first."""
        changes, next_cursor = service.lead_history(db, lead_id, limit, cursor)
        return HistoryPage(items=[StageChangeRead.of(c) for c in changes], next_cursor=next_cursor)
