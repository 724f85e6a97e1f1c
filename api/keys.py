"""API keys: who may call the service and in which role. Only a hash of each key is kept."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Column, Index
from sqlmodel import Field, Session, SQLModel, select

from leads.types import Id, UTCDateTime, utcnow

KEY_PREFIX = "lf_"


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    TELEPROSPECTOR = "teleprospector"
    SALESPERSON = "salesperson"
    SERVICE = "service"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_hash", "key_hash", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64)
    # The seller the key acts for: "mine" in the work queues means the leads they own.
    seller: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: Role
    seller: str | None = None  # the handle of the seller the key acts for


def digest(secret: str) -> str:
    # Keys are 256 random bits, so a plain SHA-256 cannot be reversed by guessing.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    session: Session, role: Role, name: str, seller: str | None = None
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its secret, which is never stored or shown again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name, role=role.value, prefix=secret[:12], key_hash=digest(secret), seller=seller
    )
    session.add(key)
    session.flush()
    return key, secret


def authenticate(session: Session, secret: str) -> Principal | None:
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == digest(secret))).first()
    if key is None or key.revoked_at is not None or key.id is None:
        return None
    return Principal(key_id=key.id, name=key.name, role=Role(key.role), seller=key.seller)


def has_keys(session: Session) -> bool:
    return session.exec(select(ApiKey.id).limit(1)).first() is not None
