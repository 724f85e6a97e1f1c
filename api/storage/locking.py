"""Optimistic concurrency: every record has a version, and a change names the version it was
made on (over HTTP, an If-Match of the ETag: `api.http.conditional`).

The one lock-and-check: a change reads its record under lock, answers "not found" for a
record that does not exist or that the caller may not see (so a hidden record is never
confirmed by a stale version), and only then compares the version the caller read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Select, Table, bindparam
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from leads.errors import NotFound, StaleVersion, VersionRequired


class Versioned(Protocol):
    id: Any
    version: int


Row = TypeVar("Row", bound=Versioned)


@dataclass(frozen=True)
class Expected:
    """The versions of a record a change was made on; `anything` for a change made on any."""

    versions: frozenset[int] = frozenset()
    anything: bool = False


ANY = Expected(anything=True)


def check_version(expected: Expected | None, version: int, kind: str) -> None:
    if expected is None:
        raise VersionRequired(kind)
    if expected.anything or version in expected.versions:
        return
    raise StaleVersion(kind, version)


def _everyone(_row: Any) -> bool:
    return True


def locked(
    session: Session,
    model: type[Row],
    ident: int,
    expected: Expected | None,
    kind: str,
    *,
    visible: Callable[[Row], bool] = _everyone,
) -> Row:
    """Read a row for change, holding its lock until the transaction ends, and check it."""
    row = session.exec(select(model).where(col(model.id) == ident).with_for_update()).first()  # type: ignore[arg-type]
    if row is None or not visible(row):
        raise NotFound(kind, ident)
    check_version(expected, row.version, kind)
    return row


@cache
def _read_locked(table: Table) -> Select[Any]:
    return select_rows(table).where(table.c.id == bindparam("ident")).with_for_update()


def locked_values(
    connection: Connection,
    table: Table,
    ident: int,
    expected: Expected | None,
    kind: str,
    *,
    visible: Callable[[Mapping[str, Any]], bool] = _everyone,
) -> dict[str, Any]:
    """`locked` for the hot paths that work on plain rows rather than ORM objects."""
    row = connection.execute(_read_locked(table), {"ident": ident}).mappings().first()
    if row is None or not visible(row):
        raise NotFound(kind, ident)
    check_version(expected, row["version"], kind)
    return dict(row)
