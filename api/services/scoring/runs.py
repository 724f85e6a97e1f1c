"""Evaluation runs as the API reads them."""

from __future__ import annotations

from sqlmodel import col, select

from api.storage.db import Database
from scoring.tables import EvaluationRun, RunStatus


def queued_full_evaluation(db: Database) -> EvaluationRun | None:
    """An evaluation of every live model that is queued and has not started, if there is one."""
    with db.read() as session:
        return session.exec(
            select(EvaluationRun).where(
                col(EvaluationRun.model_id).is_(None),
                col(EvaluationRun.status) == RunStatus.QUEUED.value,
            )
        ).first()


def recent_evaluations(db: Database, limit: int) -> list[EvaluationRun]:
    """The most recent evaluations, newest first."""
    with db.read() as session:
        return list(
            session.exec(select(EvaluationRun).order_by(col(EvaluationRun.id).desc()).limit(limit))
        )
