"""/api/leads: create, read, list and update leads, move them, and read their history."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

import bpf
from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.params import (
    Cursor,
    IfMatch,
    Limit,
    QueryId,
    RecordId,
    TextQuery,
    Time,
    instant,
)
from api.http.state import services
from api.services import access, search
from api.services import leads as service
from api.services.keys import Principal, Role
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
from api.services.search import LeadFilter, LeadSort, Scored, Span
from api.storage.db import Database
from bpf.actors import Actor
from leads.errors import InvalidInput
from leads.models import Lead, LeadRow, LeadStatus

OWNER_BY_HAND = (
    "only an admin sets a lead's owner by hand; leads go to sellers through the assignment "
    "rules (/api/assignment-rules) and the unassigned queue"
)
EDITORS = roles(Role.MARKETER, Role.TELEPROSPECTOR, Role.SALESPERSON, Role.SERVICE)
Score = Annotated[float | None, QueryParameter(ge=-1e12, le=1e12, description="Needs model.")]
SortBy = Annotated[
    LeadSort,
    QueryParameter(
        description="id (the default); score or -score (needs model; only leads it scored); "
        "created or -created; last_activity or -last_activity (the lead's or its contact's "
        "latest interaction). A leading - is newest or highest first."
    ),
]


def _answer(
    db: Database, catalog: bpf.Catalog, lead: Lead | LeadRow, status_code: int = 200
) -> Response[LeadRead]:
    [read] = service.reads(db, catalog, [lead])
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
        return _answer(db, catalog, lead, 201)

    @get("/", opt=roles(*EVERYONE), sync_to_thread=True, operation_id="ListLeads")
    def list(
        self,
        request: Request[Principal, Any, State],
        process: Annotated[str | None, QueryParameter(max_length=64)] = None,
        stage: Annotated[str | None, QueryParameter(max_length=64)] = None,
        status: Annotated[LeadStatus | None, QueryParameter()] = None,
        owner: Annotated[str | None, QueryParameter(max_length=200)] = None,
        sales_ready: Annotated[bool | None, QueryParameter()] = None,
        q: TextQuery = None,
        model: QueryId = None,
        score_min: Score = None,
        score_max: Score = None,
        grade: Annotated[str | None, QueryParameter(max_length=40)] = None,
        created_after: Time = None,
        created_before: Time = None,
        updated_after: Time = None,
        updated_before: Time = None,
        sort: SortBy = LeadSort.ID,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> LeadPage:
        """Find leads: by text over email, topic and the contact's name and company; by a
        model's score and grade; by created and updated time. In id order unless sorted."""
        db, catalog = services(request).db, services(request).catalog
        where = LeadFilter(
            process=process,
            stage=stage,
            status=status,
            owner=owner,
            sales_ready=sales_ready,
            q=q,
            scored=Scored(model, score_min, score_max, grade),
            created=Span(
                "created",
                instant("created_after", created_after),
                instant("created_before", created_before),
            ),
            updated=Span(
                "updated",
                instant("updated_after", updated_after),
                instant("updated_before", updated_before),
            ),
        )
        scope = access.scope(request.user, catalog)
        leads, next_cursor = search.list_leads(db, scope, where, sort, limit, cursor)
        items = service.reads(db, catalog, leads)
        return LeadPage(items=items, next_cursor=next_cursor)

    @get("/{lead_id:int}", opt=roles(*EVERYONE), sync_to_thread=True, operation_id="GetLead")
    def read(
        self,
        request: Request[Principal, Any, State],
        lead_id: RecordId,
    ) -> Response[LeadRead]:
        db, catalog = services(request).db, services(request).catalog
        lead = service.get_lead(db, access.scope(request.user, catalog), lead_id)
        return _answer(db, catalog, lead)

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
        return _answer(db, catalog, lead)

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
        return _answer(db, catalog, lead)

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
