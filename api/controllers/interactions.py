"""/api/interactions: what contacts and leads did, stored once per external id or key."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody, QueryParameter
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from api import interaction_service, records
from api.auth import EVERYONE, allow
from api.controllers.params import Cursor, Limit
from api.db import Database
from api.idempotency import run_once
from api.keys import Principal, Role
from api.schemas.interactions import (
    BatchResult,
    InteractionBatch,
    InteractionPage,
    InteractionRead,
)
from api.settings import Settings
from leads.models import INTERACTION_KINDS, Interaction

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Send the same key again and get the first answer; nothing is stored twice.",
    ),
]
ROUTE = "POST /api/interactions"
# A concurrent request may store an external id between our check and our insert; the
# database refuses the duplicate, and the batch is checked again from the start.
ATTEMPTS = 3


class InteractionController(Controller):
    path = "/api/interactions"
    tags = ["interactions"]

    @post(
        "/",
        guards=[allow(Role.MARKETER, Role.SERVICE)],
        sync_to_thread=True,
        status_code=201,
        operation_id="RecordInteractions",
    )
    def record(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[InteractionBatch],
        db: NamedDependency[Database],
        settings: NamedDependency[Settings],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BatchResult]:
        """Store 1 to 1,000 interactions, all or none; each bad item is named by its index."""
        kinds = set(INTERACTION_KINDS) | set(settings.custom_interaction_kinds())

        def work(session: Session) -> tuple[int, Any]:
            stored = interaction_service.store(session, data.interactions, kinds)
            return 201, BatchResult(accepted=stored.accepted).model_dump(mode="json")

        body = data.model_dump(mode="json")
        for attempt in range(ATTEMPTS):
            try:
                status, answer, replayed = run_once(
                    db, request.user, idempotency_key, ROUTE, body, work
                )
                break
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(BatchResult.model_validate(answer), status_code=status, headers=headers)

    @get("/", guards=[allow(*EVERYONE)], sync_to_thread=True, operation_id="ListInteractions")
    def list(
        self,
        db: NamedDependency[Database],
        contact_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        lead_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        kind: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> InteractionPage:
        where = []
        if contact_id is not None:
            where.append(col(Interaction.contact_id) == contact_id)
        if lead_id is not None:
            where.append(col(Interaction.lead_id) == lead_id)
        if kind is not None:
            where.append(col(Interaction.kind) == kind)
        rows, next_cursor = records.listing(db, Interaction, where, limit, cursor)
        return InteractionPage(items=[InteractionRead.of(i) for i in rows], next_cursor=next_cursor)
