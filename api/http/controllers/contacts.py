"""/api/contacts and /api/accounts: the people and companies leads belong to."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter
from pydantic import TypeAdapter, ValidationError

from api.http.auth import EVERYONE, roles
from api.http.conditional import etag, expected
from api.http.controllers.params import Cursor, IfMatch, Limit, QueryId, RecordId, TextQuery
from api.http.state import services
from api.services import contacts as service
from api.services import privacy, records
from api.services.keys import Principal, Role
from api.services.schemas.audit import AuditEntryRead, AuditPage
from api.services.schemas.common import Email
from api.services.schemas.contacts import (
    AccountCreate,
    AccountPage,
    AccountRead,
    AccountUpdate,
    ConsentChangeRead,
    ConsentGiven,
    ConsentPage,
    ContactCreate,
    ContactPage,
    ContactRead,
    ContactUpdate,
    ErasureRead,
)
from bpf.actors import Actor
from leads.audit import AuditEntry, Entity
from leads.errors import InvalidInput
from leads.models import Account, Contact
from leads.types import utcnow

EDITORS = roles(Role.MARKETER, Role.TELEPROSPECTOR, Role.SALESPERSON, Role.SERVICE)
READERS = roles(*EVERYONE)
PRIVACY = roles(Role.MARKETER)


_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


def _normalised_email(value: str) -> str:
    try:
        return _EMAIL.validate_python(value)
    except ValidationError:
        raise InvalidInput.field("email", "not an email address") from None


def _by(request: Request[Principal, Any, Any]) -> Actor:
    return Actor.user(request.user)


def _audit_page(entries: tuple[list[AuditEntry], str | None]) -> AuditPage:
    rows, next_cursor = entries
    return AuditPage(items=[AuditEntryRead.of(e) for e in rows], next_cursor=next_cursor)


def _contact(contact: Contact, status_code: int = 200) -> Response[ContactRead]:
    return Response(
        ContactRead.of(contact), status_code=status_code, headers={"ETag": etag(contact.version)}
    )


def _account(account: Account, status_code: int = 200) -> Response[AccountRead]:
    return Response(
        AccountRead.of(account), status_code=status_code, headers={"ETag": etag(account.version)}
    )


class ContactController(Controller):
    path = "/api/contacts"
    tags = ["contacts"]

    @post("/", opt=EDITORS, sync_to_thread=True, operation_id="CreateContact")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[ContactCreate]
    ) -> Response[ContactRead]:
        """Create a contact. An erased person can be created again only with their consent."""
        db = services(request).db
        return _contact(service.create_contact(db, data), 201)

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListContacts")
    def list(
        self,
        request: Request[Principal, Any, State],
        email: Annotated[str | None, QueryParameter(max_length=320, format="email")] = None,
        account_id: QueryId = None,
        q: TextQuery = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ContactPage:
        """Find contacts, in id order: by email, by account, by text over email, name and
        company."""
        db = services(request).db
        # Query parameters skip the body's validators: normalise as a stored email is.
        normalised = _normalised_email(email) if email is not None else None
        rows, next_cursor = service.list_contacts(
            db, email=normalised, account_id=account_id, q=q, limit=limit, cursor=cursor
        )
        return ContactPage(items=[ContactRead.of(c) for c in rows], next_cursor=next_cursor)

    @get("/{contact_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetContact")
    def read(
        self, request: Request[Principal, Any, State], contact_id: RecordId
    ) -> Response[ContactRead]:
        db = services(request).db
        return _contact(records.get(db, Contact, contact_id, "contact"))

    @patch("/{contact_id:int}", opt=EDITORS, sync_to_thread=True, operation_id="UpdateContact")
    def update(
        self,
        request: Request[Principal, Any, State],
        contact_id: RecordId,
        data: JSONBody[ContactUpdate],
        if_match: IfMatch = None,
    ) -> Response[ContactRead]:
        db, catalog = services(request).db, services(request).catalog
        return _contact(
            service.update_contact(db, catalog, contact_id, expected(if_match), data, _by(request))
        )

    @delete(
        "/{contact_id:int}",
        opt=roles(Role.MARKETER),
        sync_to_thread=True,
        operation_id="DeleteContact",
    )
    def remove(
        self,
        request: Request[Principal, Any, State],
        contact_id: RecordId,
        if_match: IfMatch = None,
    ) -> None:
        """Delete the contact record; its leads and interactions stay, without it. To remove
        everything about a person, erase them instead."""
        db, catalog = services(request).db, services(request).catalog
        service.delete_contact(db, catalog, contact_id, expected(if_match), _by(request))

    @post(
        "/{contact_id:int}/consent",
        opt=EDITORS,
        sync_to_thread=True,
        status_code=200,
        operation_id="RecordConsent",
    )
    def consent(
        self,
        request: Request[Principal, Any, State],
        contact_id: RecordId,
        data: JSONBody[ConsentGiven],
    ) -> Response[ContactRead]:
        """Record consent given or withdrawn (level `none`), with its source."""
        db, catalog = services(request).db, services(request).catalog
        return _contact(service.give_consent(db, catalog, contact_id, data, _by(request)))

    @get(
        "/{contact_id:int}/consent",
        opt=READERS,
        sync_to_thread=True,
        operation_id="ConsentHistory",
    )
    def consent_history(
        self,
        request: Request[Principal, Any, State],
        contact_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ConsentPage:
        """Every consent statement of the contact, oldest first."""
        db = services(request).db
        rows, next_cursor = service.consent_history(db, contact_id, limit, cursor)
        return ConsentPage(items=[ConsentChangeRead.of(c) for c in rows], next_cursor=next_cursor)

    @get("/{contact_id:int}/audit", opt=READERS, sync_to_thread=True, operation_id="ContactAudit")
    def audit(
        self,
        request: Request[Principal, Any, State],
        contact_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Every change to the contact's fields, newest first: who, when, old and new value."""
        db = services(request).db
        return _audit_page(service.audit_history(db, Entity.CONTACT, contact_id, limit, cursor))

    @post(
        "/{contact_id:int}/erasure",
        opt=PRIVACY,
        sync_to_thread=True,
        status_code=200,
        operation_id="EraseContact",
    )
    def erase(
        self,
        request: Request[Principal, Any, State],
        contact_id: RecordId,
    ) -> ErasureRead:
        """Erase a person: the contact, their leads, interactions, consent records and stage
        history, in one transaction. A keyed hash of the email stops imports and forms from
        re-creating them without their consent."""
        db, catalog = services(request).db, services(request).catalog
        done = privacy.erase_contact(db, catalog, contact_id)
        return ErasureRead(
            contact_id=done.contact_id,
            leads=done.leads,
            interactions=done.interactions,
            erased_at=utcnow(),
        )


class AccountController(Controller):
    path = "/api/accounts"
    tags = ["accounts"]

    @post("/", opt=EDITORS, sync_to_thread=True, operation_id="CreateAccount")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[AccountCreate]
    ) -> Response[AccountRead]:
        db = services(request).db
        return _account(service.create_account(db, data), 201)

    @get("/", opt=READERS, sync_to_thread=True, operation_id="ListAccounts")
    def list(
        self,
        request: Request[Principal, Any, State],
        name: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AccountPage:
        db = services(request).db
        rows, next_cursor = service.list_accounts(db, name=name, limit=limit, cursor=cursor)
        return AccountPage(items=[AccountRead.of(a) for a in rows], next_cursor=next_cursor)

    @get("/{account_id:int}", opt=READERS, sync_to_thread=True, operation_id="GetAccount")
    def read(
        self, request: Request[Principal, Any, State], account_id: RecordId
    ) -> Response[AccountRead]:
        db = services(request).db
        return _account(records.get(db, Account, account_id, "account"))

    @patch("/{account_id:int}", opt=EDITORS, sync_to_thread=True, operation_id="UpdateAccount")
    def update(
        self,
        request: Request[Principal, Any, State],
        account_id: RecordId,
        data: JSONBody[AccountUpdate],
        if_match: IfMatch = None,
    ) -> Response[AccountRead]:
        db, catalog = services(request).db, services(request).catalog
        return _account(
            service.update_account(db, catalog, account_id, expected(if_match), data, _by(request))
        )

    @get("/{account_id:int}/audit", opt=READERS, sync_to_thread=True, operation_id="AccountAudit")
    def audit(
        self,
        request: Request[Principal, Any, State],
        account_id: RecordId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Every change to the account's fields, newest first: who, when, old and new value."""
        db = services(request).db
        return _audit_page(service.audit_history(db, Entity.ACCOUNT, account_id, limit, cursor))

    @delete(
        "/{account_id:int}",
        opt=roles(Role.MARKETER),
        sync_to_thread=True,
        operation_id="DeleteAccount",
    )
    def remove(
        self,
        request: Request[Principal, Any, State],
        account_id: RecordId,
        if_match: IfMatch = None,
    ) -> None:
        """Delete the account; its contacts and leads stay, without it."""
        db, catalog = services(request).db, services(request).catalog
        service.delete_account(db, catalog, account_id, expected(if_match), _by(request))
