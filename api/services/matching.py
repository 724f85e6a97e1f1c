"""Finding the existing contact or lead a submission is about."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from leads.matching import DEFAULTS, Entity, Strategy, comparable
from leads.models import Contact, Lead, LeadStatus, MatchingStrategy


@dataclass(frozen=True)
class Match:
    """The record a strategy found (None: create one), by which fields, among how many."""

    strategy: Strategy
    record: Any = None
    candidates: int = 0
    missing: list[str] = field(default_factory=list)  # strategy fields the submission lacks

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "strategy": self.strategy.name,
            "fields": list(self.strategy.fields),
            "matched": self.record is not None,
            "candidates": self.candidates,
        }
        if self.candidates > 1:
            report["chosen"] = "the most recently updated of the candidates"
        if self.missing:
            report["missing"] = self.missing
        return report


def strategy(session: Session, entity: Entity, strategy_id: int | None) -> Strategy:
    """The form's own strategy, else the one marked default, else the built-in default."""
    row = None
    if strategy_id is not None:
        row = session.get(MatchingStrategy, strategy_id)
    if row is None:
        row = session.exec(
            select(MatchingStrategy).where(
                col(MatchingStrategy.entity) == entity.value,
                col(MatchingStrategy.is_default).is_(True),
            )
        ).first()
    if row is None:
        return DEFAULTS[entity]
    return Strategy(row.name, Entity(row.entity), tuple(row.fields))


def find(session: Session, chosen: Strategy, values: Mapping[str, Any]) -> Match:
    """Records equal to `values` on every field of the strategy; the most recently updated wins.

    Leads are matched among open leads only: a qualified or disqualified lead is history.
    """
    missing = [f for f in chosen.fields if values.get(f) in (None, "")]
    if missing:
        return Match(chosen, missing=missing)
    model: type[Contact] | type[Lead] = Contact if chosen.entity is Entity.CONTACT else Lead
    clauses = _clauses(chosen, values)
    if model is Lead:
        clauses.append(col(Lead.status) == LeadStatus.OPEN.value)
    rows: Sequence[Any] = session.exec(
        select(model).where(*clauses).order_by(col(model.updated_at).desc(), col(model.id).desc())
    ).all()
    return Match(chosen, record=rows[0] if rows else None, candidates=len(rows))


def _clauses(chosen: Strategy, values: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for name in chosen.fields:
        value = comparable(name, values[name])
        if chosen.entity is Entity.LEAD and name == "context":
            kind, ident = value
            clauses += [col(Lead.context_kind) == kind, col(Lead.context_id) == ident]
        elif chosen.entity is Entity.LEAD and name == "parent_contact":
            clauses.append(col(Lead.parent_contact_id) == value)
        elif chosen.entity is Entity.CONTACT:
            clauses.append(getattr(Contact, name) == value)
        else:
            clauses.append(getattr(Lead, name) == value)
    return clauses
