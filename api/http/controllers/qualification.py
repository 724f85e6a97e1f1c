"""/api/qualifications: criteria over live scoring models, and what happens to the open leads
that meet them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.params import IfMatch, RecordId
from api.http.state import services
from api.services.keys import Principal, Role
from api.services.schemas.qualification import (
    QualificationCreate,
    QualificationRead,
    QualificationUpdate,
)
from api.services.schemas.scoring import RunRead
from api.services.scoring import qualification as qualification_service
from scoring.tables import Qualification

MODELLERS = roles(Role.MARKETER)
READERS = roles(*EVERYONE)


def _one(
    row: Qualification, warnings: list[tuple[str, str]] | None = None, status_code: int = 200
) -> Response[QualificationRead]:
    return Response(
        QualificationRead.of(row, warnings or []),
        status_code=status_code,
        headers={"ETag": etag(row.version)},
    )


class QualificationController(Controller):
    path = "/api/qualifications"
    tags = ["qualification"]

    @post("/", opt=MODELLERS, sync_to_thread=True, operation_id="CreateQualification")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[QualificationCreate]
    ) -> Response[QualificationRead]:
        """A new qualification, in draft. Every model its criteria name must be live."""
        db = services(request).db
        return _one(qualification_service.create(db, data), status_code=201)

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListQualifications")
    def list(self, request: Request[Principal, Any, State]) -> list[QualificationRead]:
        db = services(request).db
        return [QualificationRead.of(row, w) for row, w in qualification_service.listing(db)]

    @get("/{ident:int}", opt=READERS, sync_to_thread=True, operation_id="GetQualification")
    def read(
        self, request: Request[Principal, Any, State], ident: RecordId
    ) -> Response[QualificationRead]:
        """The qualification, with a warning for each test that cannot hold as the scoring
        models are now (a model stopped, say)."""
        db = services(request).db
        return _one(*qualification_service.read(db, ident))

    @patch("/{ident:int}", opt=MODELLERS, sync_to_thread=True, operation_id="UpdateQualification")
    def update(
        self,
        request: Request[Principal, Any, State],
        ident: RecordId,
        data: JSONBody[QualificationUpdate],
        if_match: IfMatch = None,
    ) -> Response[QualificationRead]:
        """Change a draft or a stopped qualification. A published one is read-only: stop it
        first."""
        db = services(request).db
        return _one(*qualification_service.update(db, ident, expected(if_match), data))

    @post(
        "/{ident:int}/publish",
        opt=MODELLERS,
        sync_to_thread=True,
        status_code=202,
        operation_id="PublishQualification",
    )
    def publish(
        self,
        request: Request[Principal, Any, State],
        ident: RecordId,
        if_match: IfMatch = None,
    ) -> Response[dict[str, Any]]:
        """Publish: from now on every lead scored is qualified in the same transaction, and an
        evaluation qualifies every lead (follow it at /api/evaluations/{id})."""
        db = services(request).db
        row, run, new = qualification_service.publish(db, ident, expected(if_match))
        assert run.id is not None
        if new:
            services(request).scheduler.submit(run.id)
        return Response(
            {
                "qualification": QualificationRead.of(row, []).model_dump(mode="json"),
                "evaluation": RunRead.of(run).model_dump(mode="json"),
            },
            status_code=202,
            headers={"ETag": etag(row.version), "Location": f"/api/evaluations/{run.id}"},
        )

    @post(
        "/{ident:int}/stop",
        opt=MODELLERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="StopQualification",
    )
    def stop(
        self,
        request: Request[Principal, Any, State],
        ident: RecordId,
        if_match: IfMatch = None,
    ) -> Response[QualificationRead]:
        """Stop qualifying leads; those it qualified stay qualified."""
        db = services(request).db
        return _one(*qualification_service.stop(db, ident, expected(if_match)))
