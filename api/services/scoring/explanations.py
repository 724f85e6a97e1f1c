"""Why a lead (or account) has its score: every rule's points, the interactions behind them,
and when they expire. Evaluated as of the stored score's time, so the parts add up to it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from api.services.schemas.scoring import ContributionRead, CountedRead, ModelScoreRead
from api.storage.db import Database
from leads.errors import NotFound
from leads.models import Account, Contact, Interaction, Lead
from leads.types import epoch, utcnow
from scoring.definition import BehaviourRule, ScoringDefinition
from scoring.explain import Evaluation, Occurrence, evaluate
from scoring.sql import behaving
from scoring.tables import AccountScore, LeadScore, ModelStatus, ScoringModel

# An explanation lists at most this many interactions per rule, the newest first; the count
# of all of them is given beside.
LISTED = 100


def lead_scores(db: Database, lead_id: int) -> list[ModelScoreRead]:
    with db.read() as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise NotFound("lead", lead_id)
        contact = session.get(Contact, lead.parent_contact_id) if lead.parent_contact_id else None
        account_id = lead.parent_account_id or (contact.account_id if contact else None)
        account = session.get(Account, account_id) if account_id else None
        stored = {
            s.model_id: s
            for s in session.exec(select(LeadScore).where(col(LeadScore.lead_id) == lead_id))
        }
        models = _models(session, "lead", stored)
        credited = or_(
            col(Interaction.lead_id) == lead_id,
            and_(
                col(Interaction.lead_id).is_(None),
                col(Interaction.contact_id).in_(behaving([lead_id])),
            ),
        )
        occurrences = _occurrences(session, models, credited)
    records = {
        "lead": lead.model_dump(),
        "contact": contact.model_dump() if contact else None,
        "account": account.model_dump() if account else None,
    }
    return [_read(model, stored.get(model.id), records, occurrences) for model in models]


def account_scores(db: Database, account_id: int) -> list[ModelScoreRead]:
    with db.read() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound("account", account_id)
        stored = {
            s.model_id: s
            for s in session.exec(
                select(AccountScore).where(col(AccountScore.account_id) == account_id)
            )
        }
        models = _models(session, "account", stored)
        members = select(Contact.id).where(col(Contact.account_id) == account_id)
        occurrences = _occurrences(session, models, col(Interaction.contact_id).in_(members))
    records = {"account": account.model_dump()}
    return [_read(model, stored.get(model.id), records, occurrences) for model in models]


def _models(session: Session, entity: str, stored: dict[int, Any]) -> list[ScoringModel]:
    """Live models of the entity, and stopped ones that still hold a stale score for it."""
    rows = session.exec(select(ScoringModel).order_by(col(ScoringModel.id))).all()
    return [
        m
        for m in rows
        if m.definition.get("entity", "lead") == entity
        and (m.status == ModelStatus.LIVE.value or m.id in stored)
    ]


def _occurrences(session: Session, models: list[ScoringModel], credited: Any) -> list[Occurrence]:
    kinds = {
        rule.kind
        for model in models
        for rule in ScoringDefinition.model_validate(model.definition).rules
        if isinstance(rule, BehaviourRule)
    }
    if not kinds:
        return []
    rows = session.exec(select(Interaction).where(col(Interaction.kind).in_(kinds), credited)).all()
    return [
        Occurrence(r.id, r.kind, r.occurred_epoch, r.target, r.properties)  # type: ignore[arg-type]
        for r in rows
    ]


def _read(
    model: ScoringModel,
    stored: LeadScore | AccountScore | None,
    records: dict[str, Any],
    occurrences: list[Occurrence],
) -> ModelScoreRead:
    assert model.id is not None
    as_of = stored.as_of if stored is not None else utcnow()
    result: Evaluation = evaluate(
        ScoringDefinition.model_validate(model.definition), records, occurrences, epoch(as_of)
    )
    return ModelScoreRead(
        model_id=model.id,
        model=model.name,
        status=model.status,
        scored=stored is not None,
        reason=result.reason if stored is None else None,
        score=stored.score if stored is not None else None,
        grade=stored.grade if stored is not None else None,
        sales_ready=stored.reached if stored is not None else False,
        stale=stored.stale if stored is not None else False,
        as_of=stored.as_of if stored is not None else None,
        next_change_at=result.next_change_at,
        contributions=[
            ContributionRead(
                rule=c.rule,
                type=c.type,
                points=c.points,
                held=c.held,
                occurrences=c.occurrences,
                interactions=[
                    CountedRead(
                        id=i.id,
                        kind=i.kind,
                        occurred_at=i.occurred_at,
                        weight=i.weight,
                        expires_at=i.expires_at,
                    )
                    for i in c.interactions[:LISTED]
                ],
                expires_at=c.expires_at,
            )
            for c in result.contributions
        ]
        if stored is not None
        else [],
    )
