"""What demand capture is configured with, as the API lists it: matching strategies, forms and
events, and lead-gen sources."""

from __future__ import annotations

from sqlmodel import col, select

from api.storage.db import Database
from leads.errors import NotFound
from leads.models import Form, LeadgenSource, MatchingStrategy


def list_strategies(db: Database) -> list[MatchingStrategy]:
    """Every matching strategy, in id order."""
    with db.read() as session:
        return list(session.exec(select(MatchingStrategy).order_by(col(MatchingStrategy.id))))


def list_forms(db: Database) -> list[Form]:
    """Every form and event, in id order."""
    with db.read() as session:
        return list(session.exec(select(Form).order_by(col(Form.id))))


def get_form(db: Database, form_id: str) -> Form:
    """The form or event; 404 when there is none."""
    with db.read() as session:
        form = session.get(Form, form_id)
    if form is None:
        raise NotFound("form", form_id)
    return form


def list_leadgen_sources(db: Database) -> list[LeadgenSource]:
    """Every lead-gen source, in id order."""
    with db.read() as session:
        return list(session.exec(select(LeadgenSource).order_by(col(LeadgenSource.id))))


def get_leadgen_source(db: Database, source_id: str) -> LeadgenSource:
    """The lead-gen source; 404 when there is none."""
    with db.read() as session:
        source = session.get(LeadgenSource, source_id)
    if source is None:
        raise NotFound("lead-gen source", source_id)
    return source
