"""Scoring models through their lifecycle: draft -> live -> stopped -> draft."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, update
from sqlmodel import col, select

from api.services.schemas.scoring import ModelCreate, ModelUpdate
from api.services.scoring import evaluation as scoring_service
from api.storage import job_runs
from api.storage.db import Database
from api.storage.locking import Expected, locked
from leads.errors import Conflict, InvalidInput, Taken
from leads.types import utcnow
from scoring.definition import BehaviourRule, ScoringDefinition, out_of_range
from scoring.lifecycle import MODELS
from scoring.tables import (
    AccountScore,
    EvaluationRun,
    LeadScore,
    ModelStatus,
    RunStatus,
    ScoringModel,
)

KIND = "scoring model"


def _conflict(detail: str) -> Conflict:
    return Conflict(detail, slug="model-state", title="Not in this state")


def _unique_name(db: Database, name: str, model_id: int | None = None) -> None:
    with db.read() as session:
        other = session.exec(select(ScoringModel).where(col(ScoringModel.name) == name)).first()
    if other is not None and other.id != model_id:
        raise Taken("name", f"a scoring model named '{name}' exists")


def refuse_out_of_range(definition: ScoringDefinition) -> None:
    """422 naming each number of the definition that a model may not hold."""
    problems = out_of_range(definition, "definition")
    if problems:
        raise InvalidInput([{"field": path, "reason": reason} for path, reason in problems])


def create(db: Database, data: ModelCreate) -> ScoringModel:
    refuse_out_of_range(data.definition)
    _unique_name(db, data.name)
    model = ScoringModel(name=data.name, definition=data.definition.model_dump(mode="json"))
    with db.write() as session:
        session.add(model)
    return model


def update_draft(
    db: Database, model_id: int, expected: Expected | None, data: ModelUpdate
) -> ScoringModel:
    if data.definition is not None:
        refuse_out_of_range(data.definition)
    if data.name is not None:
        _unique_name(db, data.name, model_id)
    with db.write() as session:
        model = locked(session, ScoringModel, model_id, expected, KIND)
        if model.status != ModelStatus.DRAFT.value:
            raise _conflict(
                f"the model is {model.status} and cannot be edited: "
                + (
                    "stop it, return it to draft, then edit it"
                    if model.status == ModelStatus.LIVE.value
                    else "return it to draft first"
                )
            )
        changed = False
        if data.name is not None and data.name != model.name:
            model.name, changed = data.name, True
        if data.definition is not None:
            definition = data.definition.model_dump(mode="json")
            if definition != model.definition:
                model.definition, changed = definition, True
        if changed:
            model.version += 1
            model.updated_at = utcnow()
    return model


def go_live(
    db: Database, model_id: int, expected: Expected | None, kinds: Collection[str]
) -> tuple[ScoringModel, EvaluationRun]:
    """Make the model live and queue the evaluation that scores every record in its audience."""
    with db.write() as session:
        model = locked(session, ScoringModel, model_id, expected, KIND)
        now = utcnow()
        MODELS.take(model, "go_live", now)
        definition = ScoringDefinition.model_validate(model.definition)
        refuse_out_of_range(definition)
        unknown = sorted(
            {r.kind for r in definition.rules if isinstance(r, BehaviourRule)} - set(kinds)
        )
        if unknown:
            raise InvalidInput.field(
                "definition.rules",
                f"unknown interaction kinds: {', '.join(unknown)}; declare custom kinds in "
                "LEADFLOW_INTERACTION_KINDS",
            )
        model.live_since = now
        run = EvaluationRun(model_id=model_id, status=RunStatus.QUEUED.value, as_of=now)
        session.add(run)
        job_runs.queue_evaluation(session, run, f"scoring model {model_id} going live")
    return model, run


def stop(db: Database, model_id: int, expected: Expected | None) -> ScoringModel:
    """Stop scoring. With automatic lead score cleanup on, the model's scores are deleted;
    off, they stay, marked stale. Going live again recalculates them."""
    with db.write() as session:
        model = locked(session, ScoringModel, model_id, expected, KIND)
        MODELS.take(model, "stop", utcnow())
        cleanup = scoring_service.switches(session)["automatic_lead_score_cleanup"]
        for table in (LeadScore, AccountScore):
            if cleanup:
                session.execute(delete(table).where(col(table.model_id) == model_id))
            else:
                session.execute(
                    update(table).where(col(table.model_id) == model_id).values(stale=True)
                )
    return model


def to_draft(db: Database, model_id: int, expected: Expected | None) -> ScoringModel:
    with db.write() as session:
        model = locked(session, ScoringModel, model_id, expected, KIND)
        MODELS.take(model, "to_draft", utcnow())
    return model


def remove(db: Database, model_id: int, expected: Expected | None) -> None:
    with db.write() as session:
        model = locked(session, ScoringModel, model_id, expected, KIND)
        if model.status == ModelStatus.LIVE.value:
            raise _conflict("the model is live: stop it before deleting it")
        session.delete(model)
