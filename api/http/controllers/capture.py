"""Demand capture: matching strategies, forms and events, submissions, lead-gen webhooks."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from api.http.auth import EVERYONE, roles
from api.http.controllers.interactions import IdempotencyKey
from api.http.state import services
from api.services import capture as service
from api.services import records
from api.services.idempotency import check_key, run_once
from api.services.keys import Principal, Role
from api.services.schemas.capture import (
    FormCreate,
    FormRead,
    LeadgenSourceCreate,
    LeadgenSourceRead,
    RecordOutcome,
    StrategyCreate,
    StrategyRead,
    SubmissionIn,
    SubmissionResult,
)
from api.storage.db import DbSession
from bpf.actors import Actor
from leads.models import Form, LeadgenSource, MatchingStrategy

CONFIGURERS = roles(Role.MARKETER)
CAPTURERS = roles(Role.MARKETER, Role.SERVICE)
DRY_RUN = {
    200: ResponseSpec(
        data_container=SubmissionResult,
        description="A dry run: what would be matched and created; nothing is written",
    )
}
DryRun = Annotated[
    bool,
    QueryParameter(
        name="dry_run", description="Report which contact and lead would match; write nothing."
    ),
]


class StrategyController(Controller):
    path = "/api/matching-strategies"
    tags = ["capture"]

    @post("/", opt=CONFIGURERS, sync_to_thread=True, operation_id="CreateMatchingStrategy")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[StrategyCreate]
    ) -> StrategyRead:
        """A list of fields compared exactly (email case-insensitively)."""
        db = services(request).db
        with db.write() as session:
            return StrategyRead.of(service.add_strategy(session, data))

    @get("/", opt=roles(*EVERYONE), sync_to_thread=True, operation_id="ListMatchingStrategies")
    def list(self, request: Request[Principal, Any, State]) -> list[StrategyRead]:
        db = services(request).db
        return [StrategyRead.of(r) for r in records.every(db, MatchingStrategy)]


class FormController(Controller):
    path = "/api/forms"
    tags = ["capture"]

    @post("/", opt=CONFIGURERS, sync_to_thread=True, operation_id="CreateForm")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[FormCreate]
    ) -> FormRead:
        """A form or an event; it may name its own matching strategies."""
        db = services(request).db
        with db.write() as session:
            return FormRead.of(service.add_form(session, data))

    @get("/", opt=roles(*EVERYONE), sync_to_thread=True, operation_id="ListForms")
    def list(self, request: Request[Principal, Any, State]) -> list[FormRead]:
        db = services(request).db
        return [FormRead.of(f) for f in records.every(db, Form)]

    @get("/{form_id:str}", opt=roles(*EVERYONE), sync_to_thread=True, operation_id="GetForm")
    def read(self, request: Request[Principal, Any, State], form_id: FromPath[str]) -> FormRead:
        db = services(request).db
        return FormRead.of(records.get(db, Form, form_id, "form"))

    @post(
        "/{form_id:str}/submissions",
        opt=CAPTURERS,
        sync_to_thread=True,
        status_code=201,
        responses=DRY_RUN,
        operation_id="SubmitForm",
    )
    def submit(
        self,
        request: Request[Principal, Any, Any],
        form_id: FromPath[str],
        data: JSONBody[SubmissionIn],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubmissionResult]:
        """Match the submission to a contact and a lead (or create them) and record it."""
        return _capture(
            request,
            form_id,
            "form",
            "form_submit",
            data,
            dry_run,
            idempotency_key,
        )


class EventController(Controller):
    path = "/api/events"
    tags = ["capture"]

    @post(
        "/{event_id:str}/registrations",
        opt=CAPTURERS,
        sync_to_thread=True,
        status_code=201,
        responses=DRY_RUN,
        operation_id="RegisterForEvent",
    )
    def register(
        self,
        request: Request[Principal, Any, Any],
        event_id: FromPath[str],
        data: JSONBody[SubmissionIn],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubmissionResult]:
        """A registration for an event (a form of kind event), matched like a submission."""
        return _capture(
            request,
            event_id,
            "event",
            "event_registration",
            data,
            dry_run,
            idempotency_key,
        )

    @post(
        "/{event_id:str}/checkins",
        opt=CAPTURERS,
        sync_to_thread=True,
        status_code=201,
        responses=DRY_RUN,
        operation_id="CheckInToEvent",
    )
    def check_in(
        self,
        request: Request[Principal, Any, Any],
        event_id: FromPath[str],
        data: JSONBody[SubmissionIn],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubmissionResult]:
        """Someone arrived at the event."""
        return _capture(
            request,
            event_id,
            "event",
            "event_checkin",
            data,
            dry_run,
            idempotency_key,
        )


class LeadgenController(Controller):
    path = "/api/leadgen"
    tags = ["capture"]

    @post("/sources", opt=CONFIGURERS, sync_to_thread=True, operation_id="CreateLeadgenSource")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[LeadgenSourceCreate]
    ) -> LeadgenSourceRead:
        """An external lead-gen form, mapped field by field onto one of our forms."""
        db = services(request).db
        with db.write() as session:
            return LeadgenSourceRead.of(service.add_leadgen_source(session, data))

    @get(
        "/sources",
        opt=roles(*EVERYONE),
        sync_to_thread=True,
        operation_id="ListLeadgenSources",
    )
    def list(self, request: Request[Principal, Any, State]) -> list[LeadgenSourceRead]:
        db = services(request).db
        return [LeadgenSourceRead.of(s) for s in records.every(db, LeadgenSource)]

    @post(
        "/{source_id:str}",
        opt=CAPTURERS,
        sync_to_thread=True,
        status_code=201,
        responses=DRY_RUN,
        operation_id="ReceiveLeadgenResponse",
    )
    def receive(
        self,
        request: Request[Principal, Any, Any],
        source_id: FromPath[str],
        data: JSONBody[dict[str, Any]],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubmissionResult]:
        """A response from the external form, as its sender posts it."""
        source = records.get(services(request).db, LeadgenSource, source_id, "lead-gen source")
        submission = service.leadgen_submission(source, data)
        return _capture(
            request,
            source.form_id,
            None,
            "form_submit",
            submission,
            dry_run,
            idempotency_key,
        )


def _capture(
    request: Request[Principal, Any, Any],
    form_id: str,
    kind: str | None,
    interaction_kind: str,
    data: SubmissionIn,
    dry_run: bool,
    idempotency_key: str | None,
) -> Response[SubmissionResult]:
    parts = services(request)
    db, catalog = parts.db, parts.catalog
    kinds = parts.settings.known_interaction_kinds()
    actor = Actor.user(request.user)

    def work(session: DbSession) -> tuple[int, Any]:
        form = service.form_of(session, form_id, kind)
        result = service.submit(
            session,
            catalog,
            form,
            data,
            kind=interaction_kind,
            kinds=kinds,
            actor=actor,
            dry_run=dry_run,
        )
        if dry_run:
            session.rollback()
        return (200 if dry_run else 201), _answer(result).model_dump(mode="json")

    route = f"{request.method} {request.url.path}"
    if dry_run:
        check_key(idempotency_key)  # no answer is stored, but the key must still be one
    key = None if dry_run else idempotency_key
    status, answer, replayed = run_once(
        db, request.user, key, route, lambda: data.model_dump(mode="json"), work
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    # A first answer is sent as built; a replay, read back from the database, is put in the
    # answer's shape again (PostgreSQL keeps JSON keys in its own order).
    content = SubmissionResult.model_validate(answer) if replayed else answer
    return Response(content, status_code=status, headers=headers)


def _answer(captured: service.Captured) -> SubmissionResult:
    return SubmissionResult(
        dry_run=captured.dry_run,
        contact=_outcome(captured.contact),
        lead=_outcome(captured.lead),
        interaction_id=captured.interaction_id,
        interaction_duplicate=captured.interaction_duplicate,
    )


def _outcome(outcome: service.Outcome) -> RecordOutcome:
    return RecordOutcome(id=outcome.id, action=outcome.action, match=outcome.match.report())
