"""/api/scoring-models, /api/scoring-configurations, /api/evaluations, and the scores of a lead
or an account with their explanations."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.params import IfMatch, RecordId
from api.http.problems import Problem
from api.http.state import services
from api.services import access, records
from api.services import leads as lead_service
from api.services.keys import Principal, Role
from api.services.schemas.scoring import (
    ConfigurationCreate,
    ConfigurationRead,
    InsightsRead,
    ModelCreate,
    ModelRead,
    ModelScoreRead,
    ModelUpdate,
    RunRead,
    WhatIf,
    WhatIfRead,
)
from api.services.scoring import configurations, explanations, insights, runs
from api.services.scoring import evaluation as scoring_service
from api.services.scoring import models as model_service
from scoring.tables import EvaluationRun, ScoringConfiguration, ScoringModel

MODELLERS = roles(Role.MARKETER)
READERS = roles(*EVERYONE)
RECENT_EVALUATIONS = 50


def _model(model: ScoringModel, status_code: int = 200) -> Response[ModelRead]:
    return Response(
        ModelRead.of(model), status_code=status_code, headers={"ETag": etag(model.version)}
    )


class ScoringModelController(Controller):
    path = "/api/scoring-models"
    tags = ["scoring"]

    @post("/", opt=MODELLERS, sync_to_thread=True, operation_id="CreateScoringModel")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[ModelCreate]
    ) -> Response[ModelRead]:
        """A new model, in draft."""
        db = services(request).db
        return _model(model_service.create(db, data), 201)

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListScoringModels")
    def list(self, request: Request[Principal, Any, State]) -> list[ModelRead]:
        db = services(request).db
        return [ModelRead.of(m) for m in records.every(db, ScoringModel)]

    @get("/{model_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetScoringModel")
    def read(
        self, request: Request[Principal, Any, State], model_id: RecordId
    ) -> Response[ModelRead]:
        db = services(request).db
        return _model(records.get(db, ScoringModel, model_id, "scoring model"))

    @patch(
        "/{model_id:int}",
        opt=MODELLERS,
        sync_to_thread=True,
        operation_id="UpdateScoringModel",
    )
    def update(
        self,
        request: Request[Principal, Any, State],
        model_id: RecordId,
        data: JSONBody[ModelUpdate],
        if_match: IfMatch = None,
    ) -> Response[ModelRead]:
        """Edit a draft. A live model is read-only: stop it and return it to draft first."""
        db = services(request).db
        return _model(model_service.update_draft(db, model_id, expected(if_match), data))

    @delete(
        "/{model_id:int}",
        opt=MODELLERS,
        sync_to_thread=True,
        operation_id="DeleteScoringModel",
    )
    def remove(
        self,
        request: Request[Principal, Any, State],
        model_id: RecordId,
        if_match: IfMatch = None,
    ) -> None:
        db = services(request).db
        model_service.remove(db, model_id, expected(if_match))

    @post(
        "/{model_id:int}/go-live",
        opt=MODELLERS,
        sync_to_thread=True,
        status_code=202,
        operation_id="ScoringModelGoLive",
    )
    def go_live(
        self,
        request: Request[Principal, Any, State],
        model_id: RecordId,
        if_match: IfMatch = None,
    ) -> Response[dict[str, Any]]:
        """Go live: from now on interactions and changes re-score leads at once, and an
        evaluation scores every lead in the model's audience (follow it at
        /api/evaluations/{id})."""
        db, settings = services(request).db, services(request).settings
        kinds = settings.known_interaction_kinds()
        model, run = model_service.go_live(db, model_id, expected(if_match), kinds)
        assert run.id is not None
        services(request).scheduler.submit(run.id)
        return Response(
            {
                "model": ModelRead.of(model).model_dump(mode="json"),
                "evaluation": RunRead.of(run).model_dump(mode="json"),
            },
            status_code=202,
            headers={"ETag": etag(model.version), "Location": f"/api/evaluations/{run.id}"},
        )

    @post(
        "/{model_id:int}/stop",
        opt=MODELLERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="StopScoringModel",
    )
    def stop(
        self,
        request: Request[Principal, Any, State],
        model_id: RecordId,
        if_match: IfMatch = None,
    ) -> Response[ModelRead]:
        """Stop scoring; the scores go, or stay marked stale, as the cleanup switch says."""
        db = services(request).db
        return _model(model_service.stop(db, model_id, expected(if_match)))

    @post(
        "/{model_id:int}/draft",
        opt=MODELLERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="ScoringModelToDraft",
    )
    def to_draft(
        self,
        request: Request[Principal, Any, State],
        model_id: RecordId,
        if_match: IfMatch = None,
    ) -> Response[ModelRead]:
        """Return a stopped model to draft, to edit it."""
        db = services(request).db
        return _model(model_service.to_draft(db, model_id, expected(if_match)))

    @get(
        "/{model_id:int}/insights",
        opt=READERS,
        sync_to_thread=True,
        operation_id="ScoringModelInsights",
    )
    def insights(self, request: Request[Principal, Any, State], model_id: RecordId) -> InsightsRead:
        """Leads scored, a histogram, leads per grade, the top-10% threshold, sales ready."""
        db = services(request).db
        return insights.insights(db, model_id)

    @post(
        "/{model_id:int}/what-if",
        opt=MODELLERS,
        sync_to_thread=True,
        status_code=200,
        operation_id="ScoringModelWhatIf",
    )
    def what_if(
        self,
        request: Request[Principal, Any, State],
        model_id: RecordId,
        data: JSONBody[WhatIf],
    ) -> WhatIfRead:
        """Evaluate another definition, or another sales-ready score, against current data
        without writing anything."""
        db = services(request).db
        return insights.what_if(db, model_id, data)


class ConfigurationController(Controller):
    path = "/api/scoring-configurations"
    tags = ["scoring"]

    @post("/", opt=roles(), sync_to_thread=True, operation_id="CreateScoringConfiguration")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[ConfigurationCreate]
    ) -> ConfigurationRead:
        """A new configuration; the most recently created one is in effect."""
        db = services(request).db
        return ConfigurationRead.of(configurations.create_configuration(db, data))

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListScoringConfigurations")
    def list(self, request: Request[Principal, Any, State]) -> list[ConfigurationRead]:
        db = services(request).db
        return [ConfigurationRead.of(c) for c in records.every(db, ScoringConfiguration)]

    @get(
        "/effective",
        opt=READERS,
        sync_to_thread=True,
        operation_id="EffectiveScoringConfiguration",
    )
    def effective(self, request: Request[Principal, Any, State]) -> ConfigurationRead:
        """The configuration in effect: the newest, or every switch on when there is none."""
        db = services(request).db
        with db.read() as session:
            config = scoring_service.effective_configuration(session)
        if config is None:
            return ConfigurationRead(
                id=None,
                name="defaults",
                automatic_sales_ready=True,
                automated_marketing_qualification=True,
                automatic_lead_score_cleanup=True,
                created_at=None,
            )
        return ConfigurationRead.of(config)


class EvaluationController(Controller):
    path = "/api/evaluations"
    tags = ["scoring"]

    @post(
        "/",
        opt=MODELLERS,
        sync_to_thread=True,
        status_code=202,
        operation_id="StartEvaluation",
    )
    def start(self, request: Request[Principal, Any, State]) -> Response[RunRead]:
        """Re-score every lead and account for every live model, set-based, and fire the
        outcomes of those whose results changed. Runs in the background; follow its progress
        at the returned location."""
        db = services(request).db
        waiting = runs.queued_full_evaluation(db)
        if waiting is not None:
            raise Problem(
                409,
                "evaluation-queued",
                "Evaluation already queued",
                f"evaluation {waiting.id} is queued and will cover every live model",
                run_id=waiting.id,
            )
        run = scoring_service.new_run(db, requested_by=request.user.name)
        assert run.id is not None
        services(request).scheduler.submit(run.id)
        return Response(
            RunRead.of(run), status_code=202, headers={"Location": f"/api/evaluations/{run.id}"}
        )

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListEvaluations")
    def list(self, request: Request[Principal, Any, State]) -> list[RunRead]:
        db = services(request).db
        return [RunRead.of(r) for r in runs.recent_evaluations(db, RECENT_EVALUATIONS)]

    @get("/{run_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetEvaluation")
    def read(self, request: Request[Principal, Any, State], run_id: RecordId) -> RunRead:
        db = services(request).db
        return RunRead.of(records.get(db, EvaluationRun, run_id, "evaluation"))


@get(
    "/api/leads/{lead_id:int}/scores",
    opt=READERS,
    sync_to_thread=True,
    operation_id="LeadScores",
    tags=["scoring"],
)
def lead_scores(request: Request[Principal, Any, State], lead_id: RecordId) -> list[ModelScoreRead]:
    """Per model: the score, the grade, and every rule that contributed, with its points, the
    interactions behind them and when those points expire."""
    db, catalog = services(request).db, services(request).catalog
    lead_service.get_lead(db, access.scope(request.user, catalog), lead_id)
    return explanations.lead_scores(db, lead_id)


@get(
    "/api/accounts/{account_id:int}/scores",
    opt=READERS,
    sync_to_thread=True,
    operation_id="AccountScores",
    tags=["scoring"],
)
def account_scores(
    request: Request[Principal, Any, State], account_id: RecordId
) -> list[ModelScoreRead]:
    """Per account model: the score, the grade, and why."""
    db = services(request).db
    return explanations.account_scores(db, account_id)
