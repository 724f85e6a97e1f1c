"""Matching a batch's rows against stored records, one query per batch."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, select

from api.storage.bulk import in_values


def matches(
    connection: Connection,
    table: Table,
    column: str,
    values: Collection[Any],
    key_columns: Sequence[str],
    key_of: Callable[[Mapping[str, Any]], Any],
    wanted: Collection[Any],
    *,
    lock: bool,
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[Any, dict[str, Any]]:
    """The stored row each wanted key matches (the most recently updated among equals), read
    whole; `column` IN `values` narrows the search, `key_of` makes a row's key."""
    if not values:
        return {}
    dialect = connection.dialect.name
    candidates = (
        select(table.c.id, *(table.c[name] for name in key_columns))
        .where(in_values(table.c[column], values, dialect), *where)
        .order_by(table.c.updated_at.desc(), table.c.id.desc())
    )
    chosen: dict[int, Any] = {}
    taken: set[Any] = set()
    for candidate in connection.execute(candidates).mappings():
        key = key_of(candidate)
        if key in wanted and key not in taken:
            taken.add(key)
            chosen[candidate["id"]] = key
    if not chosen:
        return {}
    query = select(table).where(in_values(table.c.id, chosen, dialect))
    if lock:
        query = query.with_for_update()
    found = {}
    for record in connection.execute(query).mappings():
        key = chosen[record["id"]]
        if key_of(record) == key:  # unless a concurrent change moved it since
            found[key] = dict(record)
    return found
