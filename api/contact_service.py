"""Contacts, accounts and consent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

import bpf
from api import privacy, records, scoring_service
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
from leads.models import Account, ConsentChange, ConsentLevel, Contact, Lead
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
            record_consent(session, contact, data.consent)
    return contact


def update_contact(
    db: Database, catalog: bpf.Catalog, contact_id: int, if_match: str | None, data: ContactUpdate
) -> Contact:
    def rescore(session: Session, contact: Contact, before: Mapping[str, Any]) -> None:
        assert contact.id is not None
        old_account = [before["account_id"]] if before.get("account_id") else []
        scoring_service.rescore_for(
            session, catalog, contact_ids=[contact.id], account_ids=old_account
        )

    changes = data.model_dump(exclude_unset=True)
    return records.update(
        db,
        Contact,
        contact_id,
        if_match,
        changes,
        "contact",
        ACCOUNT_REFERENCE,
        _not_erased,
        rescore,
    )


def _not_erased(session: Session, changed: Mapping[str, Any]) -> None:
    """An existing contact cannot take an erased person's email: a person who comes back
    gives their consent with a new contact."""
    if "email" in changed:
        privacy.allow_return(session, changed["email"], consent_given=False)


def give_consent(
    db: Database, catalog: bpf.Catalog, contact_id: int, data: ConsentGiven
) -> Contact:
    """Record a consent statement. No If-Match: withdrawing must be as easy as giving. Models
    that need consent score the contact's leads, or stop scoring them, at once."""
    with db.write() as session:
        contact = locked(session, Contact, contact_id, "*", "contact")
        record_consent(session, contact, data)
        contact.version += 1
        contact.updated_at = utcnow()
        scoring_service.rescore_for(session, catalog, contact_ids=[contact_id])
    return contact


def delete_contact(
    db: Database, catalog: bpf.Catalog, contact_id: int, if_match: str | None
) -> None:
    """Delete the contact; its leads stay without a parent (a change to them: a new version)."""
    with db.write() as session:
        contact = locked(session, Contact, contact_id, if_match, "contact")
        orphans = list(
            session.exec(select(Lead.id).where(col(Lead.parent_contact_id) == contact_id))
        )
        account = [contact.account_id] if contact.account_id else []
        session.delete(contact)
        session.flush()
        _touch_leads(session, orphans)
        scoring_service.rescore(session, catalog, lead_ids=orphans, account_ids=account)


def delete_account(
    db: Database, catalog: bpf.Catalog, account_id: int, if_match: str | None
) -> None:
    """Delete the account; its contacts and leads stay without it."""
    with db.write() as session:
        account = locked(session, Account, account_id, if_match, "account")
        orphans = list(
            session.exec(select(Lead.id).where(col(Lead.parent_account_id) == account_id))
        )
        members = list(
            session.exec(select(Contact.id).where(col(Contact.account_id) == account_id))
        )
        session.delete(account)
        session.flush()
        _touch_leads(session, orphans)
        scoring_service.rescore_for(session, catalog, lead_ids=orphans, contact_ids=members)


def _touch_leads(session: Session, lead_ids: list[int]) -> None:
    if lead_ids:
        session.execute(
            update(Lead)
            .where(col(Lead.id).in_(lead_ids))
            .values(version=col(Lead.version) + 1, updated_at=utcnow())
        )


def record_consent(session: Session, contact: Contact, data: ConsentGiven) -> None:
    """Keep the statement in the contact's consent history and make it the contact's level."""
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
    db: Database, catalog: bpf.Catalog, account_id: int, if_match: str | None, data: AccountUpdate
) -> Account:
    def rescore(session: Session, account: Account, _: Mapping[str, Any]) -> None:
        assert account.id is not None
        scoring_service.rescore_for(session, catalog, account_ids=[account.id])

    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise invalid([{"field": "name", "reason": "an account always has a name"}])
    return records.update(db, Account, account_id, if_match, changes, "account", after=rescore)
