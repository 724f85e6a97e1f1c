"""/api/activities: the tasks, phone calls and appointments owed to leads."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.owners import acting_seller
from api.http.controllers.params import Cursor, IfMatch, Limit, QueryId, RecordId, Time, instant
from api.http.state import services
from api.services import access
from api.services import activities as service
from api.services.activities import ActivityFilter, ActivitySort
from api.services.keys import Principal, Role
from api.services.schemas.activities import (
    ActivityClose,
    ActivityComplete,
    ActivityCreate,
    ActivityPage,
    ActivityRead,
    CallLog,
)
from api.services.schemas.audit import AuditEntryRead, AuditPage
from bpf.actors import Actor
from leads.activities import Activity, ActivityKind, ActivityStatus

READERS = roles(*EVERYONE)
# Teleprospectors and salespeople work leads (admins may do everything).
WORKERS = roles(Role.TELEPROSPECTOR, Role.SALESPERSON)


def _answer(activity: Activity, status_code: int = 200) -> Response[ActivityRead]:
    return Response(
        ActivityRead.of(activity),
        status_code=status_code,
        headers={"ETag": etag(activity.version)},
    )


class ActivityController(Controller):
    path = "/api/activities"
    tags = ["activities"]

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListActivities")
    def list(
        self,
        request: Request[Principal, Any, State],
        lead_id: QueryId = None,
        owner: Annotated[
            str | None,
            QueryParameter(
                max_length=200,
                description="A seller's handle, or `me`: the seller the API key acts for.",
            ),
        ] = None,
        status: Annotated[ActivityStatus | None, QueryParameter()] = None,
        kind: Annotated[ActivityKind | None, QueryParameter()] = None,
        due_before: Time = None,
        due_after: Time = None,
        sort: Annotated[
            ActivitySort | None,
            QueryParameter(description="id: oldest first; due: due first. owner=me: due."),
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ActivityPage:
        """List activities: by lead, owner, status, kind, or due before / at or after a time
        (RFC 3339, with a time zone). From due_before on, nothing is listed. `owner=me` is
        the caller's work: open ones (unless `status` says), due first (unless `sort` says)."""
        mine = owner == "me"
        if mine:
            owner = acting_seller(request.user, "owner", "it has no activities of its own")
            status = status or ActivityStatus.OPEN
        where = ActivityFilter(
            lead_id,
            owner,
            status,
            kind,
            instant("due_before", due_before),
            instant("due_after", due_after),
        )
        order = sort or (ActivitySort.DUE if mine else ActivitySort.ID)
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        found, next_cursor = service.list_activities(db, scope, where, limit, cursor, order)
        return ActivityPage(items=[ActivityRead.of(a) for a in found], next_cursor=next_cursor)

    @get("/{activity_id:int}/audit", opt=READERS, sync_to_thread=True, operation_id="ActivityAudit")
    def audit(
        self,
        request: Request[Principal, Any, State],
        activity_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Every change to the activity's fields (its owner follows its lead's), newest
        first."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        entries, next_cursor = service.activity_audit(db, scope, activity_id, limit, cursor)
        return AuditPage(items=[AuditEntryRead.of(e) for e in entries], next_cursor=next_cursor)

    @get("/{activity_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetActivity")
    def read(
        self, request: Request[Principal, Any, State], activity_id: RecordId
    ) -> Response[ActivityRead]:
        db, catalog = services(request).db, services(request).catalog
        return _answer(service.get_activity(db, access.scope(request.user, catalog), activity_id))

    @post("/", opt=WORKERS, sync_to_thread=True, operation_id="CreateActivity")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[ActivityCreate]
    ) -> Response[ActivityRead]:
        """Make an activity for an open lead, owned by the lead's owner unless `owner` says."""
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        return _answer(service.create_activity(db, scope, data, Actor.user(request.user)), 201)

    @post(
        "/{activity_id:int}/complete",
        opt=WORKERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="CompleteActivity",
    )
    def complete(
        self,
        request: Request[Principal, Any, State],
        activity_id: RecordId,
        data: JSONBody[ActivityComplete | None] = None,
        if_match: IfMatch = None,
    ) -> Response[ActivityRead]:
        """Mark an open activity done (`If-Match` required); a canceled one gets 409. A phone
        call completed with `call_outcome` is logged as a `phone_call` interaction."""
        db, catalog = services(request).db, services(request).catalog
        scope, actor = access.scope(request.user, catalog), Actor.user(request.user)
        done = service.complete(
            db, catalog, scope, activity_id, expected(if_match), data or ActivityComplete(), actor
        )
        return _answer(done)

    @post(
        "/{activity_id:int}/cancel",
        opt=WORKERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="CancelActivity",
    )
    def cancel(
        self,
        request: Request[Principal, Any, State],
        activity_id: RecordId,
        data: JSONBody[ActivityClose | None] = None,
        if_match: IfMatch = None,
    ) -> Response[ActivityRead]:
        """Cancel an open activity (`If-Match` required); a completed one gets 409."""
        db, catalog = services(request).db, services(request).catalog
        scope, actor = access.scope(request.user, catalog), Actor.user(request.user)
        canceled = service.cancel(
            db, scope, activity_id, expected(if_match), data or ActivityClose(), actor
        )
        return _answer(canceled)


@get(
    "/api/leads/{lead_id:int}/activities",
    opt=READERS,
    sync_to_thread=True,
    operation_id="LeadActivities",
    tags=["activities"],
)
def lead_activities(
    request: Request[Principal, Any, State],
    lead_id: RecordId,
    status: Annotated[ActivityStatus | None, QueryParameter()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ActivityPage:
    """The lead's activities, oldest first."""
    db, catalog = services(request).db, services(request).catalog
    scope = access.scope(request.user, catalog)
    found, next_cursor = service.lead_activities(db, scope, lead_id, status, limit, cursor)
    return ActivityPage(items=[ActivityRead.of(a) for a in found], next_cursor=next_cursor)


@post(
    "/api/leads/{lead_id:int}/calls",
    opt=WORKERS,
    sync_to_thread=True,
    operation_id="LogCall",
    tags=["activities"],
)
def log_call(
    request: Request[Principal, Any, State], lead_id: RecordId, data: JSONBody[CallLog]
) -> Response[ActivityRead]:
    """Log a call made to an open lead with its outcome: a completed phone call, and a
    `phone_call` interaction (property `outcome`) that scoring models read."""
    db, catalog = services(request).db, services(request).catalog
    scope, actor = access.scope(request.user, catalog), Actor.user(request.user)
    return _answer(service.log_call(db, catalog, scope, lead_id, data, actor), 201)
