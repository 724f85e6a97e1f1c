"""Contacts, accounts and consent as the API accepts and returns them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.services.schemas.common import (
    SET_BY_SERVICE,
    VERSION,
    Attributes,
    Email,
    Input,
    PositiveId,
    Reason,
    Text100,
    Text200,
    kept,
    read_only,
)
from leads.models import Account, ConsentChange, ConsentLevel, Contact

Phone = Annotated[str, Field(min_length=1, max_length=50)]
NonNegative = Annotated[int, Field(ge=0, le=10_000_000)]
Revenue = Annotated[float, Field(ge=0, le=1e15)]


class ContactFields(Input):
    email: Email | None = None
    first_name: Text100 | None = None
    last_name: Text100 | None = None
    job_title: Text200 | None = None
    company: Text200 | None = None
    phone: Phone | None = None
    country: Text100 | None = None
    industry: Text100 | None = None
    account_id: PositiveId | None = None


class ConsentGiven(Input):
    level: ConsentLevel
    source: Text200 = Field(description="Where the consent came from: a form, a call, an import.")
    note: Reason | None = None


class ContactCreate(ContactFields):
    attributes: Attributes = Field(default_factory=dict)
    consent: ConsentGiven | None = Field(
        default=None, description="Consent given with the contact's details, recorded as such."
    )


CONSENT = read_only("changes through POST /api/contacts/{id}/consent, which records it")


class ContactUpdate(ContactFields):
    """Fields to change; absent fields stay, null clears. Consent changes go through
    POST /api/contacts/{id}/consent, so they are recorded."""

    attributes: Attributes | None = Field(
        default=None, description="Merged into the contact's attributes; null removes a key."
    )
    # Changed elsewhere, never by this request: naming one is refused and nothing is applied.
    consent_level: CONSENT = None
    id: SET_BY_SERVICE = None
    version: VERSION = None
    created_at: SET_BY_SERVICE = None
    updated_at: SET_BY_SERVICE = None


class ContactRead(BaseModel):
    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    job_title: str | None
    company: str | None
    phone: str | None
    country: str | None
    industry: str | None
    account_id: int | None
    consent_level: ConsentLevel
    attributes: dict[str, Any]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, contact: Contact) -> ContactRead:
        return cls.model_validate(contact, from_attributes=True)


class ContactPage(BaseModel):
    items: list[ContactRead]
    next_cursor: str | None


class ConsentChangeRead(BaseModel):
    id: int
    level: ConsentLevel
    previous_level: ConsentLevel
    source: str
    note: str | None
    at: dt.datetime

    @classmethod
    def of(cls, change: ConsentChange) -> ConsentChangeRead:
        return cls.model_validate(change, from_attributes=True)


class ConsentPage(BaseModel):
    items: list[ConsentChangeRead]
    next_cursor: str | None


class AccountFields(Input):
    industry: Text100 | None = None
    employees: NonNegative | None = None
    revenue: Revenue | None = None
    country: Text100 | None = None


class AccountCreate(AccountFields):
    name: Text200
    attributes: Attributes = Field(default_factory=dict)


class AccountUpdate(AccountFields):
    name: kept(Text200) = None
    attributes: Attributes | None = None
    # Set by the service: naming one is refused and nothing is applied.
    id: SET_BY_SERVICE = None
    version: VERSION = None
    created_at: SET_BY_SERVICE = None
    updated_at: SET_BY_SERVICE = None


class AccountRead(BaseModel):
    id: int
    name: str
    industry: str | None
    employees: int | None
    revenue: float | None
    country: str | None
    attributes: dict[str, Any]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, account: Account) -> AccountRead:
        return cls.model_validate(account, from_attributes=True)


class AccountPage(BaseModel):
    items: list[AccountRead]
    next_cursor: str | None


class ErasureRead(BaseModel):
    contact_id: int
    leads: int
    interactions: int
    erased_at: dt.datetime
