"""API keys: who may call the service and in which role. Only a hash of each key is kept."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from api.storage.api_keys import ApiKey
from leads.types import utcnow

KEY_PREFIX = "lf_"


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    TELEPROSPECTOR = "teleprospector"
    SALESPERSON = "salesperson"
    SERVICE = "service"


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


class KeyRefused(Exception):
    """A key cannot be revoked: the message says why."""


def all_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())


def revoke_key(session: Session, ident: str, *, force: bool = False) -> ApiKey:
    """Revoke the key with this id or prefix. Refuse an unknown key, one already revoked, and
    the last active admin key unless `force`."""
    chosen = col(ApiKey.id) == int(ident) if ident.isdigit() else col(ApiKey.prefix) == ident
    found = session.exec(select(ApiKey).where(chosen).with_for_update()).all()
    if not found:
        raise KeyRefused(f"there is no API key '{ident}' (give an id or a prefix)")
    if len(found) > 1:
        ids = ", ".join(str(k.id) for k in found)
        raise KeyRefused(f"the prefix '{ident}' names keys {ids}: give the id")
    key = found[0]
    if key.revoked_at is not None:
        when = f"{key.revoked_at:%Y-%m-%d %H:%M:%S}"
        raise KeyRefused(f"key {key.id} ({key.name}) was already revoked, at {when} UTC")
    if key.role == Role.ADMIN and not force:
        admins = session.exec(
            select(ApiKey.id)
            .where(col(ApiKey.role) == Role.ADMIN.value, col(ApiKey.revoked_at).is_(None))
            .with_for_update()
        ).all()
        if len(admins) == 1:
            raise KeyRefused(
                f"key {key.id} ({key.name}) is the last active admin key: create another "
                "first (leadflow keys create --role admin), or revoke it with --force"
            )
    key.revoked_at = utcnow()
    session.add(key)
    session.flush()
    return key
