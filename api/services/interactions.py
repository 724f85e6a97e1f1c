"""Storing interactions: a batch is checked whole, stored whole, or not at all; and listing
them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, or_, select
from sqlmodel import Session, col

from api.services import access, records
from api.services.schemas.interactions import InteractionIn
from api.storage.bulk import in_values, insert_rows
from api.storage.db import Database
from leads.errors import InvalidInput
from leads.models import Contact, Interaction, Lead
from leads.types import epoch, utcnow

# Clocks of senders drift; an interaction a little in the future is still believed.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Stored:
    """What a batch stored: the answer per item (index, id, duplicate), and the new
    interactions' rows."""

    accepted: list[dict[str, Any]]
    new: list[dict[str, object]]


CONTACTS = Contact.__table__  # type: ignore[attr-defined]
LEADS = Lead.__table__  # type: ignore[attr-defined]
INTERACTIONS = Interaction.__table__  # type: ignore[attr-defined]
COLUMNS = (
    "kind",
    "occurred_at",
    "occurred_epoch",
    "contact_id",
    "lead_id",
    "target",
    "properties",
    "external_id",
    "created_at",
)


def _insert(connection: Connection, rows: list[dict[str, object]]) -> list[int]:
    """Insert the rows and return their new ids, in order."""
    if not rows:
        return []
    if connection.dialect.name == "sqlite":
        # The write lock is held from BEGIN IMMEDIATE: rows get the ids after the largest.
        last = connection.execute(select(func.max(INTERACTIONS.c.id))).scalar() or 0
        insert_rows(connection, INTERACTIONS, COLUMNS, rows)
        return list(range(last + 1, last + 1 + len(rows)))
    result = connection.execute(
        insert(INTERACTIONS).returning(INTERACTIONS.c.id, sort_by_parameter_order=True), rows
    )
    return list(result.scalars())


@dataclass(frozen=True)
class Known:
    """What checking a batch of interactions needs to know from the database."""

    kinds: Collection[str]
    contacts: set[int]
    lead_parents: dict[int, int | None]  # lead id -> its parent contact
    latest: dt.datetime  # the latest believable occurred_at

    @classmethod
    def read(
        cls,
        connection: Connection,
        kinds: Collection[str],
        contact_ids: Collection[int],
        lead_ids: Collection[int],
    ) -> Known:
        dialect = connection.dialect.name
        contacts: set[int] = set()
        if contact_ids:
            query = select(CONTACTS.c.id).where(in_values(CONTACTS.c.id, contact_ids, dialect))
            contacts = set(connection.execute(query).scalars())
        lead_parents: dict[int, int | None] = {}
        if lead_ids:
            query = select(LEADS.c.id, LEADS.c.parent_contact_id).where(
                in_values(LEADS.c.id, lead_ids, dialect)
            )
            lead_parents = dict(connection.execute(query).all())
        return cls(kinds, contacts, lead_parents, utcnow() + FUTURE_TOLERANCE)


def check(
    known: Known, kind: str, occurred_at: dt.datetime, contact_id: int | None, lead_id: int | None
) -> tuple[int | None, list[tuple[str, str]]]:
    """The contact an interaction is credited to (a lead's parent when only the lead is
    named), and each (field, reason) that makes it unacceptable."""
    problems = []
    if kind not in known.kinds:
        problems.append(("kind", f"unknown kind '{kind}'; known: {', '.join(sorted(known.kinds))}"))
    if occurred_at > known.latest:
        problems.append(("occurred_at", "is in the future"))
    if contact_id is not None and contact_id not in known.contacts:
        problems.append(("contact_id", f"there is no contact {contact_id}"))
    if lead_id is not None:
        if lead_id not in known.lead_parents:
            problems.append(("lead_id", f"there is no lead {lead_id}"))
        else:
            parent = known.lead_parents[lead_id]
            if contact_id is None:
                contact_id = parent
            elif parent is not None and parent != contact_id:
                problems.append(("lead_id", f"lead {lead_id} belongs to contact {parent}"))
    return contact_id, problems


def store(session: Session, items: Sequence[InteractionIn], kinds: Collection[str]) -> Stored:
    """Check every item, then store the new ones; raise a 422 naming each bad item's index."""
    now = utcnow()
    errors: list[dict[str, str]] = []

    def bad(index: int, field: str, reason: str) -> None:
        errors.append({"field": f"interactions.{index}.{field}", "reason": reason})

    connection = session.connection()
    dialect = connection.dialect.name
    known = Known.read(
        connection,
        kinds,
        {i.contact_id for i in items if i.contact_id is not None},
        {i.lead_id for i in items if i.lead_id is not None},
    )
    external_ids = {i.external_id for i in items if i.external_id is not None}
    stored_ids: dict[str, int] = {}
    if external_ids:
        column = INTERACTIONS.c.external_id
        stored_ids = dict(
            connection.execute(
                select(column, INTERACTIONS.c.id).where(in_values(column, external_ids, dialect))
            ).all()
        )

    rows: list[dict[str, object]] = []
    plan: list[tuple[int, int | None, str | None]] = []  # index, stored id, external id
    first_in_batch: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.contact_id is None and item.lead_id is None:
            bad(index, "contact_id", "an interaction belongs to a contact, a lead, or both")
        contact_id, problems = check(
            known, item.kind, item.occurred_at, item.contact_id, item.lead_id
        )
        for field, reason in problems:
            bad(index, field, reason)
        external = item.external_id
        if external is not None and (external in stored_ids or external in first_in_batch):
            plan.append((index, stored_ids.get(external), external))
            continue
        if external is not None:
            first_in_batch[external] = index
        plan.append((index, None, external))
        rows.append(
            {
                "kind": item.kind,
                "occurred_at": item.occurred_at,
                "occurred_epoch": epoch(item.occurred_at),
                "contact_id": contact_id,
                "lead_id": item.lead_id,
                "target": item.target,
                "properties": item.properties,
                "external_id": external,
                "created_at": now,
            }
        )
    if errors:
        raise InvalidInput(errors)

    new_ids = _insert(connection, rows)
    for row, new_id in zip(rows, new_ids, strict=True):
        row["id"] = new_id
    by_external = {row["external_id"]: row["id"] for row in rows if row["external_id"]}
    fresh = iter(new_ids)
    accepted: list[dict[str, Any]] = []
    for index, stored_id, external in plan:
        if stored_id is not None:
            accepted.append({"index": index, "id": stored_id, "duplicate": True})
        elif external is not None and first_in_batch[external] != index:
            accepted.append({"index": index, "id": by_external[external], "duplicate": True})
        else:
            accepted.append({"index": index, "id": next(fresh), "duplicate": False})
    return Stored(accepted=accepted, new=rows)


def list_interactions(
    db: Database,
    scope: access.Scope,
    *,
    contact_id: int | None,
    lead_id: int | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Interaction], str | None]:
    """A page of the interactions the scope sees, in id order, filtered. Interactions of a
    contact alone stay visible; those credited to a lead follow it."""
    where: list[ColumnElement[bool]] = []
    if contact_id is not None:
        where.append(col(Interaction.contact_id) == contact_id)
    if lead_id is not None:
        where.append(col(Interaction.lead_id) == lead_id)
    if kind is not None:
        where.append(col(Interaction.kind) == kind)
    if scope is not None:
        lead = col(Interaction.lead_id)
        where.append(or_(lead.is_(None), *access.belongs(lead, scope)))
    return records.listing(db, Interaction, where, limit, cursor)
