"""/api/contacts and /api/accounts: the people and companies leads belong to."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel import col

from api import contact_service as service
from api import privacy, records
from api.auth import EVERYONE, allow
from api.controllers.params import Cursor, IfMatch, Limit
from api.db import Database
from api.keys import Role
from api.schemas.common import Email
from api.schemas.contacts import (
    AccountCreate,
    AccountPage,
    AccountRead,
    AccountUpdate,
    ConsentChangeRead,
    ConsentGiven,
    ContactCreate,
    ContactPage,
    ContactRead,
    ContactUpdate,
    ErasureRead,
)
from api.versioning import etag
from leads.models import Account, Contact
from leads.types import utcnow

EDITORS = allow(Role.MARKETER, Role.TELEPROSPECTOR, Role.SALESPERSON, Role.SERVICE)
READERS = allow(*EVERYONE)
PRIVACY = allow(Role.MARKETER)


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

    @post("/", guards=[EDITORS], sync_to_thread=True, operation_id="CreateContact")
    def create(
        self, data: JSONBody[ContactCreate], db: NamedDependency[Database]
    ) -> Response[ContactRead]:
        """Create a contact. An erased person can be created again only with their consent."""
        return _contact(service.create_contact(db, data), 201)

    @get("/", guards=[READERS], sync_to_thread=True, operation_id="ListContacts")
    def list(
        self,
        db: NamedDependency[Database],
        email: Annotated[Email | None, QueryParameter()] = None,
        account_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ContactPage:
        where = []
        if email is not None:
            where.append(col(Contact.email) == email)
        if account_id is not None:
            where.append(col(Contact.account_id) == account_id)
        rows, next_cursor = records.listing(db, Contact, where, limit, cursor)
        return ContactPage(items=[ContactRead.of(c) for c in rows], next_cursor=next_cursor)

    @get("/{contact_id:int}", guards=[READERS], sync_to_thread=True, operation_id="GetContact")
    def read(
        self, contact_id: FromPath[int], db: NamedDependency[Database]
    ) -> Response[ContactRead]:
        return _contact(records.get(db, Contact, contact_id, "contact"))

    @patch("/{contact_id:int}", guards=[EDITORS], sync_to_thread=True, operation_id="UpdateContact")
    def update(
        self,
        contact_id: FromPath[int],
        data: JSONBody[ContactUpdate],
        db: NamedDependency[Database],
        if_match: IfMatch = None,
    ) -> Response[ContactRead]:
        return _contact(service.update_contact(db, contact_id, if_match, data))

    @delete(
        "/{contact_id:int}",
        guards=[allow(Role.MARKETER)],
        sync_to_thread=True,
        operation_id="DeleteContact",
    )
    def remove(
        self, contact_id: FromPath[int], db: NamedDependency[Database], if_match: IfMatch = None
    ) -> None:
        """Delete the contact record; its leads and interactions stay, without it. To remove
        everything about a person, erase them instead."""
        records.delete(db, Contact, contact_id, if_match, "contact")

    @post(
        "/{contact_id:int}/consent",
        guards=[EDITORS],
        sync_to_thread=True,
        status_code=200,
        operation_id="RecordConsent",
    )
    def consent(
        self, contact_id: FromPath[int], data: JSONBody[ConsentGiven], db: NamedDependency[Database]
    ) -> Response[ContactRead]:
        """Record consent given or withdrawn (level `none`), with its source."""
        return _contact(service.give_consent(db, contact_id, data))

    @get(
        "/{contact_id:int}/consent",
        guards=[READERS],
        sync_to_thread=True,
        operation_id="ConsentHistory",
    )
    def consent_history(
        self,
        contact_id: FromPath[int],
        db: NamedDependency[Database],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> list[ConsentChangeRead]:
        rows, _ = service.consent_history(db, contact_id, limit, cursor)
        return [ConsentChangeRead.of(c) for c in rows]

    @post(
        "/{contact_id:int}/erasure",
        guards=[PRIVACY],
        sync_to_thread=True,
        status_code=200,
        operation_id="EraseContact",
    )
    def erase(self, contact_id: FromPath[int], db: NamedDependency[Database]) -> ErasureRead:
        """Erase a person: the contact, their leads, interactions, consent records and stage
        history, in one transaction. A keyed hash of the email stops imports and forms from
        re-creating them without their consent."""
        done = privacy.erase_contact(db, contact_id)
        return ErasureRead(
            contact_id=done.contact_id,
            leads=done.leads,
            interactions=done.interactions,
            erased_at=utcnow(),
        )


class AccountController(Controller):
    path = "/api/accounts"
    tags = ["accounts"]

    @post("/", guards=[EDITORS], sync_to_thread=True, operation_id="CreateAccount")
    def create(
        self, data: JSONBody[AccountCreate], db: NamedDependency[Database]
    ) -> Response[AccountRead]:
        return _account(service.create_account(db, data), 201)

    @get("/", guards=[READERS], sync_to_thread=True, operation_id="ListAccounts")
    def list(
        self,
        db: NamedDependency[Database],
        name: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AccountPage:
        where = [col(Account.name) == name] if name is not None else []
        rows, next_cursor = records.listing(db, Account, where, limit, cursor)
        return AccountPage(items=[AccountRead.of(a) for a in rows], next_cursor=next_cursor)

    @get("/{account_id:int}", guards=[READERS], sync_to_thread=True, operation_id="GetAccount")
    def read(
        self, account_id: FromPath[int], db: NamedDependency[Database]
    ) -> Response[AccountRead]:
        return _account(records.get(db, Account, account_id, "account"))

    @patch("/{account_id:int}", guards=[EDITORS], sync_to_thread=True, operation_id="UpdateAccount")
    def update(
        self,
        account_id: FromPath[int],
        data: JSONBody[AccountUpdate],
        db: NamedDependency[Database],
        if_match: IfMatch = None,
    ) -> Response[AccountRead]:
        return _account(service.update_account(db, account_id, if_match, data))

    @delete(
        "/{account_id:int}",
        guards=[allow(Role.MARKETER)],
        sync_to_thread=True,
        operation_id="DeleteAccount",
    )
    def remove(
        self, account_id: FromPath[int], db: NamedDependency[Database], if_match: IfMatch = None
    ) -> None:
        """Delete the account; its contacts and leads stay, without it."""
        records.delete(db, Account, account_id, if_match, "account")
