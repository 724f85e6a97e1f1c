"""What every writer shares: its context, its part in a batch, and the statements
that write a batch's records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlmodel import Session

import bpf
from api.services.imports.options import Options
from api.services.imports.report import Report
from api.storage.bulk import in_values
from bpf.actors import Actor
from leads import csvimport
from leads.csvimport import Row, RowError
from leads.models import Account, ConsentChange, Contact, ErasedPerson, Interaction, Lead

ERASED = "belongs to an erased person"

CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]
ACCOUNTS: Table = Account.__table__  # type: ignore[attr-defined]
LEADS: Table = Lead.__table__  # type: ignore[attr-defined]
INTERACTIONS: Table = Interaction.__table__  # type: ignore[attr-defined]
CONSENT_CHANGES: Table = ConsentChange.__table__  # type: ignore[attr-defined]
ERASED_PERSONS: Table = ErasedPerson.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Context:
    plan: csvimport.Plan
    catalog: bpf.Catalog
    options: Options
    actor: Actor
    interaction_kinds: frozenset[str]

    def column(self, target: str) -> str | None:
        return self.plan.column_of(target)


class Writer:
    # The table whose new rows scoring must see; their ids follow the largest before a batch.
    table: Table | None = None

    def __init__(self, context: Context) -> None:
        self.context = context
        self.plan = context.plan
        self.changed: set[int] = set()  # ids of stored records a batch updated

    def warnings(self, session: Session) -> list[str]:
        return []

    def last_id(self, session: Session) -> int:
        if self.table is None:
            return 0
        found = session.connection().execute(select(func.max(self.table.c.id))).scalar()
        return int(found or 0)

    def new_ids(self, session: Session, last: int) -> list[int]:
        assert self.table is not None
        query = select(self.table.c.id).where(self.table.c.id > last)
        return list(session.connection().execute(query).scalars())

    def rescore(self, session: Session, last: int) -> None:
        """Score again what the batch wrote, as the API does after each change."""
        self.changed.clear()

    def apply(
        self, session: Session, rows: list[Row], report: Report, *, write: bool
    ) -> list[RowError]:
        """Check, match and (when `write`) store the rows; return the errors of bad rows and
        count the good ones in the report."""
        raise NotImplementedError

    def error(self, row: Row, target: str, reason: str) -> RowError:
        return RowError(row.line, self.context.column(target), reason)


def locking(session: Session, write: bool) -> bool:
    """Whether reads for a change should lock rows: PostgreSQL takes row locks; a SQLite
    write transaction holds the whole database already."""
    return write and session.get_bind().dialect.name != "sqlite"


def existing_ids(session: Session, table: Table, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    connection = session.connection()
    query = select(table.c.id).where(in_values(table.c.id, ids, connection.dialect.name))
    return set(connection.execute(query).scalars())


def insert_returning_ids(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """INSERT the rows and return their new ids, in order."""
    if not rows:
        return []
    result = connection.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return list(result.scalars())


def touch(state: dict[str, Any], now: dt.datetime) -> None:
    """A record changed: a stored one goes up one version per import, whatever number of rows
    change it; one this import creates is still at version 1 when it is inserted."""
    if "id" in state and not state.get("_touched"):
        state["version"] += 1
        state["_touched"] = True
    state["updated_at"] = now


def differs(state: Mapping[str, Any], stored: Mapping[str, Any], columns: Sequence[str]) -> bool:
    """Whether a stored record's rows changed it in the end (rows of a file may change a value
    and change it back), or left a consent statement to record."""
    return "_consents" in state or any(
        state[c] != stored[c] for c in columns if c not in ("version", "updated_at")
    )


def bulk_update(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Update rows by id; each dict holds the same columns, with the id under `_id`."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != "_id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({c: bindparam(c) for c in columns})
    )
    connection.execute(statement, rows)
