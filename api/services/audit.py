"""The audit log: every change to a field of a lead, contact or account records who, when, and
old -> new, in the transaction of the change; only values that really changed are recorded.

`record` is the one writer, called by every path that changes those records (by hand, capture,
imports, scoring and qualification outcomes, routing, disposition, moves), with a batch of
(id, values before, values after) at once: one executemany per call. Creating a record is not
a change, so it writes nothing; bookkeeping columns (version, timestamps) are not recorded.
An erasure (`redact`) removes the values of personal fields and keeps who changed what when.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Table, select, update

from api.storage.bulk import in_values, insert_rows
from api.storage.db import Database
from api.storage.paging import decode_cursor, page
from bpf.actors import Actor
from leads.audit import AuditEntry, Entity

TABLE: Table = AuditEntry.__table__  # type: ignore[attr-defined]
COLUMNS = (
    "entity",
    "entity_id",
    "field",
    "old",
    "new",
    "redacted",
    "actor",
    "actor_name",
    "actor_key_id",
    "at",
)

# Columns kept for the record's own sake, not values anyone set.
UNRECORDED = frozenset(
    {"id", "version", "created_at", "updated_at", "stage_entered_at", "scored_at"}
)

# What an erasure keeps of a person's records: the fields that say how the company worked the
# lead, not who the person is. Every other value (names, emails, topics, attributes) goes.
KEPT_ON_ERASURE = {
    Entity.LEAD: frozenset(
        {
            "process",
            "stage",
            "status",
            "status_reason",
            "sales_ready",
            "owner",
            "context_kind",
            "parent_contact_id",
            "parent_account_id",
        }
    ),
    Entity.CONTACT: frozenset({"consent_level", "account_id"}),
    # Its name may be the lead's topic, or say who the buyer is; the sale itself stays.
    Entity.OPPORTUNITY: frozenset(
        {
            "estimated_value_cents",
            "currency",
            "estimated_close_date",
            "status",
            "actual_value_cents",
            "closed_on",
            "lost_reason",
            "owner",
        }
    ),
}

Change = tuple[int, Mapping[str, Any], Mapping[str, Any]]


def entries(
    entity: Entity, changes: Iterable[Change], actor: Actor, now: dt.datetime
) -> list[dict[str, Any]]:
    """The audit rows of (record id, values before, values after) for the fields in `after`
    whose value differs from before, by field name; each custom attribute is a field of its
    own."""
    rows: list[dict[str, Any]] = []
    kind, name, key_id, tag = actor.kind.value, actor.name, actor.key_id, entity.value
    for entity_id, before, after in changes:
        for field, new in sorted(after.items()):
            if field in UNRECORDED:
                continue
            old = before[field]
            if field == "attributes":
                old_attributes, new_attributes = old or {}, new or {}
                differing = [
                    (f"attributes.{key}", old_attributes.get(key), new_attributes.get(key))
                    for key in sorted(old_attributes.keys() | new_attributes.keys())
                    if old_attributes.get(key) != new_attributes.get(key)
                ]
            elif old != new:
                differing = [(field, old, new)]
            else:
                continue
            for changed, old_value, new_value in differing:
                rows.append(
                    {
                        "entity": tag,
                        "entity_id": entity_id,
                        "field": changed,
                        "old": old_value,
                        "new": new_value,
                        "redacted": False,
                        "actor": kind,
                        "actor_name": name,
                        "actor_key_id": key_id,
                        "at": now,
                    }
                )
    return rows


def record(
    connection: Connection,
    entity: Entity,
    changes: Iterable[Change],
    actor: Actor,
    now: dt.datetime,
) -> int:
    """Record the fields these changes gave new values, in the caller's transaction, with one
    executemany; return the number of entries."""
    rows = entries(entity, changes, actor, now)
    insert_rows(connection, TABLE, COLUMNS, rows)
    return len(rows)


def redact(connection: Connection, records: Mapping[Entity, Collection[int]]) -> None:
    """Remove the old and new values of the personal fields from these records' entries."""
    dialect = connection.dialect.name
    for entity, ids in records.items():
        if not ids:
            continue
        connection.execute(
            update(TABLE)
            .where(
                TABLE.c.entity == entity.value,
                in_values(TABLE.c.entity_id, ids, dialect),
                TABLE.c.field.not_in(sorted(KEPT_ON_ERASURE[entity])),
            )
            .values(old=None, new=None, redacted=True)
        )


def history(
    db: Database, entity: Entity, entity_id: int, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """A page of a record's entries, newest first (the cursor is the last id shown)."""
    where = [TABLE.c.entity == entity.value, TABLE.c.entity_id == entity_id]
    before = decode_cursor(cursor)
    if before:
        where.append(TABLE.c.id < before)
    query = select(AuditEntry).where(*where).order_by(TABLE.c.id.desc()).limit(limit + 1)
    with db.read() as session:
        rows = list(session.scalars(query))
    return page(rows, limit)
