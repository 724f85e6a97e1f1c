"""/api/interactions: what contacts and leads did, stored once per external id or key."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody, QueryParameter

from api.http.auth import EVERYONE, roles
from api.http.controllers.params import Cursor, Limit, QueryId
from api.http.state import services
from api.services import access
from api.services import interactions as interaction_service
from api.services.idempotency import KEY_MAX, run_once
from api.services.keys import Principal, Role
from api.services.schemas.interactions import (
    BatchResult,
    InteractionBatch,
    InteractionPage,
    InteractionRead,
)
from api.services.scoring import evaluation
from api.storage.db import DbSession

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        schema_extra={"minLength": 1, "maxLength": KEY_MAX},  # checked by run_once
        description="Send the same key again and get the first answer; nothing is stored twice.",
    ),
]
ROUTE = "POST /api/interactions"


class InteractionController(Controller):
    path = "/api/interactions"
    tags = ["interactions"]

    @post(
        "/",
        opt=roles(Role.MARKETER, Role.SERVICE),
        sync_to_thread=True,
        status_code=201,
        operation_id="RecordInteractions",
    )
    def record(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[InteractionBatch],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BatchResult]:
        """Store 1 to 1,000 interactions, all or none; each bad item is named by its index."""
        db, catalog, settings = (
            services(request).db,
            services(request).catalog,
            services(request).settings,
        )
        kinds = settings.known_interaction_kinds()

        def work(session: DbSession) -> tuple[int, Any]:
            stored = interaction_service.store(session, data.interactions, kinds)
            evaluation.rescore_interactions(session, catalog, stored.new)
            return 201, {"accepted": stored.accepted}

        status, answer, replayed = run_once(
            db, request.user, idempotency_key, ROUTE, lambda: data.model_dump(mode="json"), work
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        # A first answer is sent as built; a replay, read back from the database, is put in the
        # answer's shape again (PostgreSQL keeps JSON keys in its own order).
        content = BatchResult.model_validate(answer) if replayed else answer
        return Response(content, status_code=status, headers=headers)

    @get("/", opt=roles(*EVERYONE), sync_to_thread=True, operation_id="ListInteractions")
    def list(
        self,
        request: Request[Principal, Any, State],
        contact_id: QueryId = None,
        lead_id: QueryId = None,
        kind: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> InteractionPage:
        db, catalog = services(request).db, services(request).catalog
        rows, next_cursor = interaction_service.list_interactions(
            db,
            access.scope(request.user, catalog),
            contact_id=contact_id,
            lead_id=lead_id,
            kind=kind,
            limit=limit,
            cursor=cursor,
        )
        return InteractionPage(items=[InteractionRead.of(i) for i in rows], next_cursor=next_cursor)
