"""The right of access: everything leadflow holds about a person, as one JSON document.

The person is whom an erasure would erase (`privacy.person_records`): the contact, the other
contact records with its email, and the leads that are theirs. The document is written out
piece by piece: the contacts, leads (with their scores, explained, and stage history),
activities and opportunities are read whole (a person has few), while interactions and
audit entries, which can be many, are read a page at a time, each page in a short read
transaction of its own, so memory stays bounded however long the history. The export is
recorded in the contact's audit log before anything is read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

import bpf
from api.services import audit, privacy, records
from api.services.schemas.activities import ActivityRead
from api.services.schemas.audit import AuditEntryRead
from api.services.schemas.contacts import ConsentChangeRead, ContactRead
from api.services.schemas.interactions import InteractionRead
from api.services.schemas.leads import LeadRead, StageChangeRead
from api.services.schemas.opportunities import OpportunityRead
from api.services.schemas.privacy import (
    ExportedAuditEntry,
    ExportedContact,
    ExportedLead,
    Exporter,
)
from api.services.scoring import explanations
from api.storage.db import Database
from bpf.actors import Actor
from leads.activities import Activity
from leads.audit import AuditEntry, Entity
from leads.errors import NotFound
from leads.models import ConsentChange, Contact, Interaction, Lead, StageChange
from leads.opportunities import Opportunity
from leads.types import utcnow

PAGE = 500
# The audit entry an export leaves on the contact: who exported whose records, and when.
EXPORTED = "privacy_export"


def export_contact(
    db: Database, catalog: bpf.Catalog, contact_id: int, actor: Actor
) -> Iterator[str]:
    """Record the export in the audit log, then return the text of the document (a
    ContactExport), in pieces. A contact that does not exist (an erased one no longer does)
    is NotFound, before any."""
    now = utcnow()
    with db.write() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("contact", contact_id)
        people, lead_ids = privacy.person_records(session, contact)
        contact_ids = [p.id for p in people if p.id is not None]
        exported = {"contacts": contact_ids, "leads": lead_ids}
        audit.record(
            session.connection(),
            Entity.CONTACT,
            [(contact_id, {EXPORTED: None}, {EXPORTED: exported})],
            actor,
            now,
        )
    return _document(db, catalog, contact_ids, lead_ids, actor, now)


def _document(
    db: Database,
    catalog: bpf.Catalog,
    contact_ids: list[int],
    lead_ids: list[int],
    actor: Actor,
    now: dt.datetime,
) -> Iterator[str]:
    by = Exporter(actor=actor.kind.value, name=actor.name)
    yield f'{{"exported_at": {_json(now)}, "exported_by": {_json(by)}'
    with db.read() as session:
        contacts = [_contact(session, i) for i in contact_ids]
    yield f', "contact": {_json(contacts[0])}, "other_contacts": {_json(contacts[1:])}'
    yield ', "leads": ['
    yield from _items(_lead(db, catalog, i) for i in lead_ids)
    with db.read() as session:
        activities = _activities(session, lead_ids)
        opportunities = _opportunities(session, contact_ids, lead_ids)
    yield f'], "activities": {_json(activities)}, "opportunities": {_json(opportunities)}'
    yield ', "interactions": ['
    yield from _items(_interactions(db, contact_ids, lead_ids))
    yield '], "audit": ['
    subjects = [(Entity.CONTACT, i) for i in contact_ids] + [(Entity.LEAD, i) for i in lead_ids]
    yield from _items(_audit(db, subjects))
    yield "]}"


def _json(value: Any) -> str:
    return json.dumps(to_jsonable_python(value), ensure_ascii=False)


def _items(values: Iterable[Any]) -> Iterator[str]:
    """The members of a JSON array, comma separated, one piece each."""
    for index, value in enumerate(values):
        yield ("" if index == 0 else ", ") + _json(value)


def _contact(session: Session, contact_id: int) -> ExportedContact:
    contact = session.get(Contact, contact_id)
    assert contact is not None
    consent = session.exec(
        select(ConsentChange)
        .where(col(ConsentChange.contact_id) == contact_id)
        .order_by(col(ConsentChange.id))
    )
    return ExportedContact(
        **ContactRead.of(contact).model_dump(), consent=[ConsentChangeRead.of(c) for c in consent]
    )


def _lead(db: Database, catalog: bpf.Catalog, lead_id: int) -> ExportedLead:
    """The lead, its stage history and its scores with their explanations."""
    with db.read() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        process = catalog.processes.get(lead.process)
        missing = process.missing_steps(lead) if process is not None else []
        history = session.exec(
            select(StageChange)
            .where(col(StageChange.lead_id) == lead_id)
            .order_by(col(StageChange.id))
        )
        read = LeadRead.of(lead, missing).model_dump()
        stages = [StageChangeRead.of(h) for h in history]
    return ExportedLead(**read, stage_history=stages, scores=explanations.lead_scores(db, lead_id))


def _activities(session: Session, lead_ids: list[int]) -> list[ActivityRead]:
    if not lead_ids:
        return []
    found = session.exec(
        select(Activity).where(col(Activity.lead_id).in_(lead_ids)).order_by(col(Activity.id))
    )
    return [ActivityRead.of(a) for a in found]


def _opportunities(
    session: Session, contact_ids: list[int], lead_ids: list[int]
) -> list[OpportunityRead]:
    theirs = or_(
        col(Opportunity.contact_id).in_(contact_ids), col(Opportunity.lead_id).in_(lead_ids)
    )
    found = session.exec(select(Opportunity).where(theirs).order_by(col(Opportunity.id)))
    return [OpportunityRead.of(o) for o in found]


def _interactions(
    db: Database, contact_ids: list[int], lead_ids: list[int]
) -> Iterator[InteractionRead]:
    """Each contact's interactions, then those credited to the leads and to none of the
    contacts: each read through its index (contact or lead, then time), a page at a time."""
    contact, lead = col(Interaction.contact_id), col(Interaction.lead_id)
    others = or_(contact.is_(None), contact.not_in(contact_ids))
    streams = [contact == c for c in contact_ids] + [and_(lead == i, others) for i in lead_ids]
    for where in streams:
        yield from _in_time_order(db, where)


def _in_time_order(db: Database, where: ColumnElement[bool]) -> Iterator[InteractionRead]:
    at, ident = col(Interaction.occurred_at), col(Interaction.id)
    after: tuple[dt.datetime, int] | None = None
    while True:
        query = select(Interaction).where(where)
        if after is not None:
            query = query.where(or_(at > after[0], and_(at == after[0], ident > after[1])))
        with db.read() as session:
            rows = session.exec(query.order_by(at, ident).limit(PAGE)).all()
            reads = [InteractionRead.of(r) for r in rows]
        yield from reads
        if len(reads) < PAGE:
            return
        after = (reads[-1].occurred_at, reads[-1].id)


def _audit(db: Database, subjects: list[tuple[Entity, int]]) -> Iterator[ExportedAuditEntry]:
    """The audit entries of each record, oldest first, a page at a time."""
    for entity, entity_id in subjects:
        where = [col(AuditEntry.entity) == entity.value, col(AuditEntry.entity_id) == entity_id]
        cursor: str | None = None
        while True:
            rows, cursor = records.listing(db, AuditEntry, where, PAGE, cursor)
            for row in rows:
                entry = AuditEntryRead.of(row).model_dump()
                yield ExportedAuditEntry(entity=entity.value, entity_id=entity_id, **entry)
            if cursor is None:
                break
