"""/api/activities: the tasks, phone calls and appointments owed to leads."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter
from pydantic import TypeAdapter, ValidationError

from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.params import Cursor, IfMatch, Limit, QueryId, RecordId
from api.http.state import services
from api.services import access
from api.services import activities as service
from api.services.activities import ActivityFilter
from api.services.keys import Principal, Role
from api.services.schemas.activities import (
    ActivityClose,
    ActivityCreate,
    ActivityPage,
    ActivityRead,
)
from api.services.schemas.common import Instant
from bpf.actors import Actor
from leads.activities import Activity, ActivityKind, ActivityStatus
from leads.errors import InvalidInput

READERS = roles(*EVERYONE)
# Teleprospectors and salespeople work leads (admins may do everything).
WORKERS = roles(Role.TELEPROSPECTOR, Role.SALESPERSON)


def _answer(activity: Activity, status_code: int = 200) -> Response[ActivityRead]:
    return Response(
        ActivityRead.of(activity),
        status_code=status_code,
        headers={"ETag": etag(activity.version)},
    )


_INSTANT: TypeAdapter[dt.datetime] = TypeAdapter(Instant)
Time = Annotated[str | None, QueryParameter(format="date-time", max_length=64)]


def _instant(name: str, value: str | None) -> dt.datetime | None:
    """Query parameters skip the body's validators: read the time as a body's is read."""
    try:
        return None if value is None else _INSTANT.validate_python(value)
    except ValidationError as exc:
        raise InvalidInput.field(name, exc.errors()[0]["msg"]) from None


class ActivityController(Controller):
    path = "/api/activities"
    tags = ["activities"]

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListActivities")
    def list(
        self,
        request: Request[Principal, Any, State],
        lead_id: QueryId = None,
        owner: Annotated[str | None, QueryParameter(max_length=200)] = None,
        status: Annotated[ActivityStatus | None, QueryParameter()] = None,
        kind: Annotated[ActivityKind | None, QueryParameter()] = None,
        due_before: Time = None,
        due_after: Time = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ActivityPage:
        """List activities in id order: by lead, owner, status, kind, or due before / at or
        after a time (RFC 3339, with a time zone). From due_before on, nothing is listed."""
        where = ActivityFilter(
            lead_id,
            owner,
            status,
            kind,
            _instant("due_before", due_before),
            _instant("due_after", due_after),
        )
        db, catalog = services(request).db, services(request).catalog
        scope = access.scope(request.user, catalog)
        found, next_cursor = service.list_activities(db, scope, where, limit, cursor)
        return ActivityPage(items=[ActivityRead.of(a) for a in found], next_cursor=next_cursor)

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
        data: JSONBody[ActivityClose | None] = None,
        if_match: IfMatch = None,
    ) -> Response[ActivityRead]:
        """Mark an open activity done (`If-Match` required); a canceled one gets 409."""
        db, catalog = services(request).db, services(request).catalog
        scope, actor = access.scope(request.user, catalog), Actor.user(request.user)
        done = service.complete(
            db, scope, activity_id, expected(if_match), data or ActivityClose(), actor
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
