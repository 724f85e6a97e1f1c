"""Erasure: a person's data goes in one transaction; a keyed hash of their email remains, so
an import or a form cannot silently bring them back without their consent."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

import bpf
from api.services import audit, outbox, webhooks
from api.services.scoring import evaluation
from api.storage.db import Database
from api.storage.locking import ANY, locked
from api.storage.secrets import ERASURE_PEPPER, secret
from leads.activities import Activity
from leads.audit import Entity
from leads.errors import Conflict
from leads.models import Contact, ErasedPerson, Interaction, Lead
from leads.opportunities import Opportunity, OpportunityStatusChange
from leads.types import utcnow


def digest(session: Session, email: str) -> str:
    key = secret(session, ERASURE_PEPPER).encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def is_erased(session: Session, email: str | None) -> bool:
    return email is not None and session.get(ErasedPerson, digest(session, email)) is not None


def refuse_erased(session: Session, email: str | None, consent_given: bool) -> None:
    """Refuse to record an erased person again unless they gave their consent again."""
    if not consent_given and is_erased(session, email):
        raise Conflict(
            "this person was erased at their request; they can be recorded again only with "
            "their consent",
            slug="erased-person",
            title="Erased person",
            errors=[{"field": "email", "reason": "belongs to an erased person; give consent"}],
        )


def allow_return(session: Session, email: str | None, consent_given: bool) -> None:
    """Refuse an erased person without consent; with it, they are no longer on the list."""
    refuse_erased(session, email, consent_given)
    if email is not None:
        found = session.get(ErasedPerson, digest(session, email))
        if found is not None:
            session.delete(found)


@dataclass(frozen=True)
class Erasure:
    contact_id: int
    leads: int
    interactions: int


ERASED_NAME = "opportunity of an erased person"


def person_records(
    session: Session, contact: Contact, *, lock: bool = False
) -> tuple[list[Contact], list[int]]:
    """Whose data a person's contact stands for, as erasure and export see it: every contact
    record with the same email (this one first), and the leads that are theirs, by parent
    contact or by email (ids in order)."""
    same_person = [col(Contact.id) == contact.id]
    if contact.email:
        same_person.append(col(Contact.email) == contact.email)
    query = select(Contact).where(or_(*same_person)).order_by(col(Contact.id))
    people = list(session.exec(query.with_for_update() if lock else query).all())
    people.sort(key=lambda p: p.id != contact.id)
    owned = [col(Lead.parent_contact_id).in_([p.id for p in people])]
    if contact.email:
        owned.append(col(Lead.email) == contact.email)
    leads = session.exec(select(Lead.id).where(or_(*owned)).order_by(col(Lead.id)))
    return people, [i for i in leads if i is not None]


def _scrub_sales_records(session: Session, lead_ids: list[int]) -> None:
    """Activities of the person's leads go (their subject and notes are about the person), and
    so do the notes of their opportunities' status changes; opportunities stay, the company's
    record of a sale, without the link to the person and without a name taken from the lead's
    topic, which the person may have written."""
    session.execute(delete(Activity).where(col(Activity.lead_id).in_(lead_ids)))
    theirs = select(Opportunity.id).where(col(Opportunity.lead_id).in_(lead_ids))
    session.execute(
        update(OpportunityStatusChange)
        .where(col(OpportunityStatusChange.opportunity_id).in_(theirs))
        .values(note=None)
    )
    topic = select(Lead.topic).where(col(Lead.id) == col(Opportunity.lead_id)).scalar_subquery()
    session.execute(
        update(Opportunity)
        .where(col(Opportunity.lead_id).in_(lead_ids), col(Opportunity.name) == topic)
        .values(name=ERASED_NAME)
    )
    session.execute(
        update(Opportunity)
        .where(col(Opportunity.lead_id).in_(lead_ids))
        .values(
            lead_id=None,
            contact_id=None,
            version=col(Opportunity.version) + 1,
            updated_at=utcnow(),
        )
    )


def erase_contact(db: Database, catalog: bpf.Catalog, contact_id: int) -> Erasure:
    """Delete the person: this contact and every other contact with the same email, the leads
    that are theirs (by parent or by email), their interactions, consent records, stage
    history and activities, their personal data in webhook messages (those not yet delivered
    are cancelled) and in the audit log (who changed which field when stays); unlink their
    opportunities; remember only the email's keyed hash. Subscribers hear contact.erased."""
    with db.write() as session:
        contact = locked(session, Contact, contact_id, ANY, "contact")
        people, lead_ids = person_records(session, contact, lock=True)
        contact_ids = [p.id for p in people]
        connection = session.connection()
        webhooks.forget(connection, [i for i in lead_ids if i is not None], contact_ids)
        sales = select(Opportunity.id).where(col(Opportunity.lead_id).in_(lead_ids))
        audit.redact(
            connection,
            {
                Entity.CONTACT: [i for i in contact_ids if i is not None],
                Entity.LEAD: [i for i in lead_ids if i is not None],
                Entity.OPPORTUNITY: [i for i in session.exec(sales) if i is not None],
            },
        )
        outbox.emit(
            connection,
            outbox.EventType.CONTACT_ERASED,
            [{"contact_id": contact_id, "contact_ids": contact_ids, "lead_ids": lead_ids}],
        )
        interactions = session.execute(
            delete(Interaction).where(
                or_(
                    col(Interaction.contact_id).in_(contact_ids),
                    col(Interaction.lead_id).in_(lead_ids),
                )
            )
        ).rowcount
        if lead_ids:
            _scrub_sales_records(session, lead_ids)
            session.execute(delete(Lead).where(col(Lead.id).in_(lead_ids)))
        if contact.email:
            key = digest(session, contact.email)
            if session.get(ErasedPerson, key) is None:
                session.add(ErasedPerson(digest=key, erased_at=utcnow()))
        accounts = sorted({p.account_id for p in people if p.account_id is not None})
        for person in people:
            session.delete(person)
        session.flush()
        # The accounts' scores, and the leads that read their contacts' behaviour.
        evaluation.rescore_for(session, catalog, account_ids=accounts)
    return Erasure(contact_id=contact_id, leads=len(lead_ids), interactions=interactions)
