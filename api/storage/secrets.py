"""Secrets the service keeps for itself, made once per database."""

from __future__ import annotations

import secrets

from sqlmodel import Field, Session, SQLModel

ERASURE_PEPPER = "erasure_pepper"


class ServiceSecret(SQLModel, table=True):
    __tablename__ = "service_secret"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)


def secret(session: Session, name: str) -> str:
    """The named secret, created the first time it is asked for."""
    found = session.get(ServiceSecret, name)
    if found is None:
        found = ServiceSecret(name=name, value=secrets.token_hex(32))
        session.add(found)
        session.flush()
    return found.value
