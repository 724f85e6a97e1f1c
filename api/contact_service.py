"""Contacts, accounts and consent."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col

from api import privacy, records
from api.db import Database
from api.problems import invalid
from api.schemas.contacts import (
    AccountCreate,
    AccountUpdate,
    ConsentGiven,
    ContactCreate,
    ContactUpdate,
)
from api.versioning import locked
from leads.models import Account, ConsentChange, ConsentLevel, Contact
from leads.types import utcnow

ACCOUNT_REFERENCE = {"account_id": (Account, "account")}


def create_contact(db: Database, data: ContactCreate) -> Contact:
    values = data.model_dump(exclude={"consent"})
    with db.write() as session:
        records.require(session, Account, data.account_id, "account_id", "account")
        consented = data.consent is not None and data.consent.level is not ConsentLevel.NONE
        privacy.allow_return(session, data.email, consented)
        now = utcnow()
        contact = Contact(**values, created_at=now, updated_at=now)
        session.add(contact)
        session.flush()
        if data.consent is not None:
            _record_consent(session, contact, data.consent)
    return contact


def update_contact(
    db: Database, contact_id: int, if_match: str | None, data: ContactUpdate
) -> Contact:
    changes = data.model_dump(exclude_unset=True)
    return records.update(db, Contact, contact_id, if_match, changes, "contact", ACCOUNT_REFERENCE)


def give_consent(db: Database, contact_id: int, data: ConsentGiven) -> Contact:
    """Record a consent statement. No If-Match: withdrawing must be as easy as giving."""
    with db.write() as session:
        contact = locked(session, Contact, contact_id, "*", "contact")
        _record_consent(session, contact, data)
        contact.version += 1
        contact.updated_at = utcnow()
    return contact


def _record_consent(session: Session, contact: Contact, data: ConsentGiven) -> None:
    assert contact.id is not None
    session.add(
        ConsentChange(
            contact_id=contact.id,
            level=data.level.value,
            previous_level=contact.consent_level,
            source=data.source,
            note=data.note,
        )
    )
    contact.consent_level = data.level.value


def consent_history(
    db: Database, contact_id: int, limit: int, cursor: str | None
) -> tuple[list[ConsentChange], str | None]:
    records.get(db, Contact, contact_id, "contact")
    where = [col(ConsentChange.contact_id) == contact_id]
    return records.listing(db, ConsentChange, where, limit, cursor)


def create_account(db: Database, data: AccountCreate) -> Account:
    now = utcnow()
    account = Account(**data.model_dump(), created_at=now, updated_at=now)
    with db.write() as session:
        session.add(account)
    return account


def update_account(
    db: Database, account_id: int, if_match: str | None, data: AccountUpdate
) -> Account:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise invalid([{"field": "name", "reason": "an account always has a name"}])
    return records.update(db, Account, account_id, if_match, changes, "account")
