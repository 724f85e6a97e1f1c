"""Contacts, accounts and consent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

import bpf
from api.services import audit, privacy, records, search
from api.services.schemas.contacts import (
    AccountCreate,
    AccountUpdate,
    ConsentGiven,
    ContactCreate,
    ContactUpdate,
)
from api.services.scoring import evaluation
from api.storage.db import Database
from api.storage.locking import ANY, Expected, locked
from bpf.actors import Actor
from leads.audit import AuditEntry, Entity
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


def list_contacts(
    db: Database,
    *,
    email: str | None,
    account_id: int | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Contact], str | None]:
    """A page of contacts in id order: those with the email (normalised as stored), those of
    the account, those whose email, name or company match `q` (api.storage.search)."""
    where: list[ColumnElement[bool]] = []
    if email is not None:
        where.append(col(Contact.email) == email)
    if account_id is not None:
        where.append(col(Contact.account_id) == account_id)
    rows, next_cursor = search.list_contacts(db, where, q, limit, cursor)
    return [Contact(**row) for row in rows], next_cursor


def update_contact(
    db: Database,
    catalog: bpf.Catalog,
    contact_id: int,
    expected: Expected | None,
    data: ContactUpdate,
    actor: Actor,
) -> Contact:
    def changed(session: Session, contact: Contact, before: Mapping[str, Any]) -> None:
        assert contact.id is not None
        _audit(session, Entity.CONTACT, contact, before, actor)
        old_account = [before["account_id"]] if before.get("account_id") else []
        evaluation.rescore_for(session, catalog, contact_ids=[contact.id], account_ids=old_account)

    changes = data.model_dump(exclude_unset=True)
    return records.update(
        db,
        Contact,
        contact_id,
        expected,
        changes,
        "contact",
        ACCOUNT_REFERENCE,
        _not_erased,
        changed,
    )


def _not_erased(session: Session, changed: Mapping[str, Any]) -> None:
    """An existing contact cannot take an erased person's email: a person who comes back
    gives their consent with a new contact."""
    if "email" in changed:
        privacy.allow_return(session, changed["email"], consent_given=False)


def give_consent(
    db: Database, catalog: bpf.Catalog, contact_id: int, data: ConsentGiven, actor: Actor
) -> Contact:
    """Record a consent statement. No If-Match: withdrawing must be as easy as giving. Models
    that need consent score the contact's leads, or stop scoring them, at once."""
    with db.write() as session:
        contact = locked(session, Contact, contact_id, ANY, "contact")
        before = {"consent_level": contact.consent_level}
        record_consent(session, contact, data)
        contact.version += 1
        contact.updated_at = utcnow()
        _audit(session, Entity.CONTACT, contact, before, actor)
        evaluation.rescore_for(session, catalog, contact_ids=[contact_id])
    return contact


def delete_contact(
    db: Database, catalog: bpf.Catalog, contact_id: int, expected: Expected | None, actor: Actor
) -> None:
    """Delete the contact; its leads stay without a parent (a change to them: a new version,
    and an audit entry)."""
    with db.write() as session:
        contact = locked(session, Contact, contact_id, expected, "contact")
        orphans = list(
            session.exec(select(Lead.id).where(col(Lead.parent_contact_id) == contact_id))
        )
        account = [contact.account_id] if contact.account_id else []
        session.delete(contact)
        session.flush()
        _touch_leads(session, orphans)
        _unlinked(session, Entity.LEAD, orphans, "parent_contact_id", contact_id, actor)
        evaluation.rescore_for(session, catalog, lead_ids=orphans, account_ids=account)


def delete_account(
    db: Database, catalog: bpf.Catalog, account_id: int, expected: Expected | None, actor: Actor
) -> None:
    """Delete the account; its contacts and leads stay without it."""
    with db.write() as session:
        account = locked(session, Account, account_id, expected, "account")
        orphans = list(
            session.exec(select(Lead.id).where(col(Lead.parent_account_id) == account_id))
        )
        members = list(
            session.exec(select(Contact.id).where(col(Contact.account_id) == account_id))
        )
        session.delete(account)
        session.flush()
        _touch_leads(session, orphans)
        _unlinked(session, Entity.LEAD, orphans, "parent_account_id", account_id, actor)
        _unlinked(session, Entity.CONTACT, members, "account_id", account_id, actor)
        evaluation.rescore_for(session, catalog, lead_ids=orphans, contact_ids=members)


def _touch_leads(session: Session, lead_ids: list[int]) -> None:
    if lead_ids:
        session.execute(
            update(Lead)
            .where(col(Lead.id).in_(lead_ids))
            .values(version=col(Lead.version) + 1, updated_at=utcnow())
        )


def _audit(
    session: Session,
    entity: Entity,
    record: Contact | Account,
    before: Mapping[str, Any],
    actor: Actor,
) -> None:
    assert record.id is not None
    after = {name: getattr(record, name) for name in before}
    audit.record(session.connection(), entity, [(record.id, before, after)], actor, utcnow())


def _unlinked(
    session: Session,
    entity: Entity,
    ids: Sequence[int | None],
    field: str,
    deleted: int,
    actor: Actor,
) -> None:
    """Records that lost their link to a deleted record (the foreign key set it to null)."""
    changes = [(i, {field: deleted}, {field: None}) for i in ids if i is not None]
    audit.record(session.connection(), entity, changes, actor, utcnow())


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


def audit_history(
    db: Database, entity: Entity, record_id: int, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """The audit entries of a contact or an account, newest first; 404 for no such record."""
    records.get(db, Contact if entity is Entity.CONTACT else Account, record_id, entity.value)
    return audit.history(db, entity, record_id, limit, cursor)


def create_account(db: Database, data: AccountCreate) -> Account:
    now = utcnow()
    account = Account(**data.model_dump(), created_at=now, updated_at=now)
    with db.write() as session:
        session.add(account)
    return account


def list_accounts(
    db: Database, *, name: str | None, limit: int, cursor: str | None
) -> tuple[list[Account], str | None]:
    """A page of accounts in id order, those of that name if given."""
    where = [col(Account.name) == name] if name is not None else []
    return records.listing(db, Account, where, limit, cursor)


def update_account(
    db: Database,
    catalog: bpf.Catalog,
    account_id: int,
    expected: Expected | None,
    data: AccountUpdate,
    actor: Actor,
) -> Account:
    def changed(session: Session, account: Account, before: Mapping[str, Any]) -> None:
        assert account.id is not None
        _audit(session, Entity.ACCOUNT, account, before, actor)
        evaluation.rescore_for(session, catalog, account_ids=[account.id])

    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    return records.update(db, Account, account_id, expected, changes, "account", after=changed)
