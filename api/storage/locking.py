"""Optimistic concurrency: every record has a version, read as an ETag, required as If-Match."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlmodel import Session, col, select

from leads.errors import NotFound, StaleVersion, VersionRequired


class Versioned(Protocol):
    id: Any
    version: int


Row = TypeVar("Row", bound=Versioned)


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int, kind: str) -> None:
    if if_match is None:
        raise VersionRequired(kind)
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags or etag(version) in tags:
        return
    raise StaleVersion(kind, version)


def locked(session: Session, model: type[Row], ident: int, if_match: str | None, kind: str) -> Row:
    """Read a row for change, holding its lock until the transaction ends, and check If-Match."""
    row = session.exec(select(model).where(col(model.id) == ident).with_for_update()).first()  # type: ignore[arg-type]
    if row is None:
        raise NotFound(kind, ident)
    check_if_match(if_match, row.version, kind)
    return row
