"""Erased persons among a batch's emails."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, exists, select
from sqlmodel import Session

from api.services import privacy
from api.services.imports.writer import ERASED_PERSONS
from api.storage.bulk import in_values


class Erasures:
    """Which emails belong to erased persons, looked up by keyed hash, a batch at a time."""

    def __init__(self, session: Session, emails: Iterable[str]) -> None:
        self.digests: dict[str, str] = {}
        self.erased: set[str] = set()
        connection = session.connection()
        if not connection.execute(select(exists().select_from(ERASED_PERSONS))).scalar():
            return
        self.digests = {email: privacy.digest(session, email) for email in set(emails)}
        digests = set(self.digests.values())
        column = ERASED_PERSONS.c.digest
        query = select(column).where(in_values(column, digests, connection.dialect.name))
        found = set(connection.execute(query).scalars())
        self.erased = {email for email, digest in self.digests.items() if digest in found}

    def __contains__(self, email: object) -> bool:
        return email in self.erased

    def forget(self, session: Session, emails: Iterable[str]) -> None:
        """They came back with their consent: they are no longer on the list."""
        digests = {self.digests[e] for e in emails if e in self.erased}
        if digests:
            connection = session.connection()
            column = ERASED_PERSONS.c.digest
            connection.execute(
                delete(ERASED_PERSONS).where(in_values(column, digests, connection.dialect.name))
            )
