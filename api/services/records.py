"""Reading and changing versioned records (contacts, accounts, leads) the same way everywhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement
from sqlmodel import Session, SQLModel, col, select

from api.storage.db import Database
from api.storage.locking import Expected, locked
from api.storage.paging import decode_cursor, page
from leads.errors import InvalidInput, NotFound
from leads.types import utcnow

Record = TypeVar("Record", bound=SQLModel)


def get(db: Database, model: type[Record], ident: int | str, kind: str) -> Record:
    with db.read() as session:
        row = session.get(model, ident)
    if row is None:
        raise NotFound(kind, ident)
    return row


def every(db: Database, model: type[Record]) -> list[Record]:
    """Every record, in id order: for the small tables of configuration."""
    with db.read() as session:
        return list(session.exec(select(model).order_by(col(model.id))))  # type: ignore[attr-defined]


def listing(
    db: Database,
    model: type[Record],
    where: Sequence[ColumnElement[bool]],
    limit: int,
    cursor: str | None,
) -> tuple[list[Record], str | None]:
    """A page of records in id order."""
    ident = col(model.id)  # type: ignore[attr-defined]
    query = select(model).where(ident > decode_cursor(cursor), *where).order_by(ident)
    with db.read() as session:
        rows = list(session.exec(query.limit(limit + 1)))
    return page(rows, limit)


def require(
    session: Session, model: type[SQLModel], ident: int | None, field: str, kind: str
) -> None:
    """422 naming the field when it refers to a record that does not exist."""
    if ident is not None and session.get(model, ident) is None:
        raise InvalidInput.field(field, f"there is no {kind} {ident}")


def update(
    db: Database,
    model: type[Record],
    ident: int,
    expected: Expected | None,
    changes: Mapping[str, Any],
    kind: str,
    references: Mapping[str, tuple[type[SQLModel], str]] | None = None,
    check: Callable[[Session, Mapping[str, Any]], None] | None = None,
    after: Callable[[Session, Record, Mapping[str, Any]], None] | None = None,
) -> Record:
    """Apply the changes under the record's lock; the version rises only if a value changed.

    Given attributes are merged into the record's (null removes a key). `references` maps a
    field to the model and name of the record it must point to. `check` sees the values that
    change, in the same transaction, and may refuse them by raising; `after` sees the changed
    record and the values it had before, in the same transaction.
    """
    with db.write() as session:
        row = locked(session, model, ident, expected, kind)
        if "attributes" in changes:
            current: Mapping[str, Any] = getattr(row, "attributes")  # noqa: B009
            changes = {**changes, "attributes": merged(current, changes["attributes"] or {})}
        for field, (target, target_kind) in (references or {}).items():
            if field in changes:
                require(session, target, changes[field], field, target_kind)
        changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
        if changed and check is not None:
            check(session, changed)
        if changed:
            before = {key: getattr(row, key) for key in changed}
            for key, value in changed.items():
                setattr(row, key, value)
            row.version += 1  # type: ignore[attr-defined]
            row.updated_at = utcnow()  # type: ignore[attr-defined]
            session.add(row)
            if after is not None:
                after(session, row, before)
    return row


def delete(
    db: Database, model: type[SQLModel], ident: int, expected: Expected | None, kind: str
) -> None:
    with db.write() as session:
        session.delete(locked(session, model, ident, expected, kind))


def merged(current: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Custom attributes after a change: given keys replace, a null value removes."""
    result = dict(current)
    for key, value in given.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result
