"""Demand capture: matching strategies, forms and events, submissions, lead-gen webhooks."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import bpf
from api import capture_service as service
from api.auth import EVERYONE, allow
from api.controllers.interactions import ATTEMPTS, IdempotencyKey
from api.db import Database
from api.idempotency import run_once
from api.keys import Principal, Role
from api.lead_service import Actor
from api.problems import not_found
from api.schemas.capture import (
    FormCreate,
    FormRead,
    LeadgenSourceCreate,
    LeadgenSourceRead,
    StrategyCreate,
    StrategyRead,
    SubmissionIn,
    SubmissionResult,
)
from api.settings import Settings
from leads.models import INTERACTION_KINDS, Form, LeadgenSource, MatchingStrategy

CONFIGURERS = allow(Role.MARKETER)
CAPTURERS = allow(Role.MARKETER, Role.SERVICE)
DryRun = Annotated[
    bool,
    QueryParameter(
        name="dry_run", description="Report which contact and lead would match; write nothing."
    ),
]


class StrategyController(Controller):
    path = "/api/matching-strategies"
    tags = ["capture"]

    @post("/", guards=[CONFIGURERS], sync_to_thread=True, operation_id="CreateMatchingStrategy")
    def create(self, data: JSONBody[StrategyCreate], db: NamedDependency[Database]) -> StrategyRead:
        """A list of fields compared exactly (email case-insensitively)."""
        with db.write() as session:
            return StrategyRead.of(service.add_strategy(session, data))

    @get("/", guards=[allow(*EVERYONE)], sync_to_thread=True, operation_id="ListMatchingStrategies")
    def list(self, db: NamedDependency[Database]) -> list[StrategyRead]:
        with db.read() as session:
            rows = session.exec(select(MatchingStrategy).order_by(col(MatchingStrategy.id)))
            return [StrategyRead.of(r) for r in rows]


class FormController(Controller):
    path = "/api/forms"
    tags = ["capture"]

    @post("/", guards=[CONFIGURERS], sync_to_thread=True, operation_id="CreateForm")
    def create(self, data: JSONBody[FormCreate], db: NamedDependency[Database]) -> FormRead:
        """A form or an event; it may name its own matching strategies."""
        with db.write() as session:
            return FormRead.of(service.add_form(session, data))

    @get("/", guards=[allow(*EVERYONE)], sync_to_thread=True, operation_id="ListForms")
    def list(self, db: NamedDependency[Database]) -> list[FormRead]:
        with db.read() as session:
            return [FormRead.of(f) for f in session.exec(select(Form).order_by(col(Form.id)))]

    @get("/{form_id:str}", guards=[allow(*EVERYONE)], sync_to_thread=True, operation_id="GetForm")
    def read(self, form_id: FromPath[str], db: NamedDependency[Database]) -> FormRead:
        with db.read() as session:
            form = session.get(Form, form_id)
        if form is None:
            raise not_found("form", form_id)
        return FormRead.of(form)

    @post(
        "/{form_id:str}/submissions",
        guards=[CAPTURERS],
        sync_to_thread=True,
        status_code=201,
        operation_id="SubmitForm",
    )
    def submit(
        self,
        request: Request[Principal, Any, Any],
        form_id: FromPath[str],
        data: JSONBody[SubmissionIn],
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
        settings: NamedDependency[Settings],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubmissionResult]:
        """Match the submission to a contact and a lead (or create them) and record it."""
        return _capture(
            request,
            db,
            catalog,
            settings,
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
        guards=[CAPTURERS],
        sync_to_thread=True,
        status_code=201,
        operation_id="RegisterForEvent",
    )
    def register(
        self,
        request: Request[Principal, Any, Any],
        event_id: FromPath[str],
        data: JSONBody[SubmissionIn],
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
        settings: NamedDependency[Settings],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubmissionResult]:
        """A registration for an event (a form of kind event), matched like a submission."""
        return _capture(
            request,
            db,
            catalog,
            settings,
            event_id,
            "event",
            "event_registration",
            data,
            dry_run,
            idempotency_key,
        )

    @post(
        "/{event_id:str}/checkins",
        guards=[CAPTURERS],
        sync_to_thread=True,
        status_code=201,
        operation_id="CheckInToEvent",
    )
    def check_in(
        self,
        request: Request[Principal, Any, Any],
        event_id: FromPath[str],
        data: JSONBody[SubmissionIn],
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
        settings: NamedDependency[Settings],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubmissionResult]:
        """Someone arrived at the event."""
        return _capture(
            request,
            db,
            catalog,
            settings,
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

    @post("/sources", guards=[CONFIGURERS], sync_to_thread=True, operation_id="CreateLeadgenSource")
    def create(
        self, data: JSONBody[LeadgenSourceCreate], db: NamedDependency[Database]
    ) -> LeadgenSourceRead:
        """An external lead-gen form, mapped field by field onto one of our forms."""
        with db.write() as session:
            return LeadgenSourceRead.of(service.add_leadgen_source(session, data))

    @get(
        "/sources",
        guards=[allow(*EVERYONE)],
        sync_to_thread=True,
        operation_id="ListLeadgenSources",
    )
    def list(self, db: NamedDependency[Database]) -> list[LeadgenSourceRead]:
        with db.read() as session:
            rows = session.exec(select(LeadgenSource).order_by(col(LeadgenSource.id)))
            return [LeadgenSourceRead.of(s) for s in rows]

    @post(
        "/{source_id:str}",
        guards=[CAPTURERS],
        sync_to_thread=True,
        status_code=201,
        operation_id="ReceiveLeadgenResponse",
    )
    def receive(
        self,
        request: Request[Principal, Any, Any],
        source_id: FromPath[str],
        data: JSONBody[dict[str, Any]],
        db: NamedDependency[Database],
        catalog: NamedDependency[bpf.Catalog],
        settings: NamedDependency[Settings],
        dry_run: DryRun = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubmissionResult]:
        """A response from the external form, as its sender posts it."""
        with db.read() as session:
            source = session.get(LeadgenSource, source_id)
        if source is None:
            raise not_found("lead-gen source", source_id)
        submission = service.leadgen_submission(source, data)
        return _capture(
            request,
            db,
            catalog,
            settings,
            source.form_id,
            None,
            "form_submit",
            submission,
            dry_run,
            idempotency_key,
        )


def _capture(
    request: Request[Principal, Any, Any],
    db: Database,
    catalog: bpf.Catalog,
    settings: Settings,
    form_id: str,
    kind: str | None,
    interaction_kind: str,
    data: SubmissionIn,
    dry_run: bool,
    idempotency_key: str | None,
) -> Response[SubmissionResult]:
    kinds = set(INTERACTION_KINDS) | set(settings.custom_interaction_kinds())
    actor = Actor.user(request.user)

    def work(session: Session) -> tuple[int, Any]:
        form = session.get(Form, form_id)
        if form is None or (kind is not None and form.kind != kind):
            raise not_found(kind or "form", form_id)
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
        return (200 if dry_run else 201), result.model_dump(mode="json")

    route = f"{request.method} {request.url.path}"
    body = {"submission": data.model_dump(mode="json"), "dry_run": dry_run}
    key = None if dry_run else idempotency_key
    for attempt in range(ATTEMPTS):
        try:
            status, answer, replayed = run_once(db, request.user, key, route, body, work)
            break
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(SubmissionResult.model_validate(answer), status_code=status, headers=headers)
