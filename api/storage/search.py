"""Text search over the documents migration 0012 keeps for every lead and contact.

A document is its record's searched fields, lower-cased, each after a newline. `q=ana` finds
the records with a field containing "ana" (at least 3 characters: the indexes are of
trigrams); `q=ana*` those with a field starting with "ana" (at least 2 characters: the
newline counts in the trigram). Case does not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, TableClause, column, literal_column, table

from leads.errors import InvalidInput

CONTAINS_MIN = 3
PREFIX_MIN = 2
# What parse accepts, for the API's schema to state; a newline would spoil "starts with", and
# PostgreSQL's text holds no NUL.
_CHAR = r"[^*\n\x00]"
TEXT_PATTERN = rf"^(?:{_CHAR}{{{CONTAINS_MIN},}}|{_CHAR}{{{PREFIX_MIN},}}\*)$"

# The search tables and what SQLite's FTS5 makes for them: not in the SQLModel metadata (they
# differ by dialect), left alone by the migrations test.
TABLES = ("lead_search", "contact_search")
OBJECTS = frozenset(
    f"{name}{suffix}"
    for name in TABLES
    for suffix in ("", "_data", "_idx", "_content", "_docsize", "_config")
)


@dataclass(frozen=True)
class Text:
    """A parsed `q`: the text sought and whether a field must start with it."""

    term: str
    prefix: bool

    @classmethod
    def parse(cls, q: str) -> Text:
        prefix = q.endswith("*")
        term = (q[:-1] if prefix else q).lower()
        least = PREFIX_MIN if prefix else CONTAINS_MIN
        if len(term) < least:
            kind = "a prefix (ending in *)" if prefix else "a text to find"
            raise InvalidInput.field("q", f"{kind} needs at least {least} characters")
        if re.search(TEXT_PATTERN, q) is None:  # as the API's schema checks it
            raise InvalidInput.field("q", "only a final * (for a prefix) is allowed")
        return cls(term, prefix)

    @property
    def sought(self) -> str:
        return "\n" + self.term if self.prefix else self.term


def _table(name: str, dialect: str) -> tuple[TableClause, ColumnElement[Any]]:
    if dialect == "sqlite":
        found = table(name, column("rowid"))
        return found, found.c.rowid
    found = table(name, column("id"), column("doc"))
    return found, found.c.id


def matching(
    name: str, dialect: str, text: Text
) -> tuple[TableClause, ColumnElement[Any], ColumnElement[bool]]:
    """The search table, its record id, and the condition keeping the records that match."""
    found, ident = _table(name, dialect)
    if dialect == "sqlite":
        phrase = '"' + text.sought.replace('"', '""') + '"'
        return found, ident, literal_column(name).op("MATCH")(phrase)
    escaped = text.sought.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return found, ident, found.c.doc.like(f"%{escaped}%")
