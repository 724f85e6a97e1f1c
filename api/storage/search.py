"""Text search over the documents migration 0012 keeps for every lead and contact.

A document is its record's searched fields, lower-cased, each after a newline. `q=ana` finds
the records with a field containing "ana" (at least 3 characters: the indexes are of
trigrams); `q=ana*` those with a field starting with "ana" (at least 2 characters: the
newline counts in the trigram). Case does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    TableClause,
    TextClause,
    column,
    literal_column,
    table,
    text,
)

from leads.errors import InvalidInput

CONTAINS_MIN = 3
PREFIX_MIN = 2
# What parse accepts, for the API's schema to state; a newline would spoil "starts with", and
# PostgreSQL's text holds no NUL.
_CHAR = r"[^*\n\x00]"
TEXT_PATTERN = rf"^(?:{_CHAR}{{{CONTAINS_MIN},}}|{_CHAR}{{{PREFIX_MIN},}}\*)$"

# PostgreSQL's b-trees of the searched fields, for prefixes (migration 0014).
PREFIX_INDEXES = (
    "ix_lead_topic_prefix",
    "ix_lead_email_prefix",
    "ix_contact_email_prefix",
    "ix_contact_first_name_prefix",
    "ix_contact_last_name_prefix",
    "ix_contact_full_name_prefix",
    "ix_contact_company_prefix",
)
# The search tables, what SQLite's FTS5 makes for them, and the deferral of their triggers: not
# in the SQLModel metadata (they differ by dialect), left alone by the migrations test.
TABLES = ("lead_search", "contact_search")
OBJECTS = frozenset(
    [
        "search_deferral",
        *PREFIX_INDEXES,
        *(
            f"{name}{suffix}"
            for name in TABLES
            for suffix in ("", "_data", "_idx", "_content", "_docsize", "_config")
        ),
    ]
)
SEARCHED = {"lead": "lead_search", "contact": "contact_search"}  # a table and its documents


@contextmanager
def documents_per_batch(connection: Connection, name: str, last_id: int) -> Iterator[None]:
    """Insert a batch of new rows of table `name`, all with ids above `last_id`, while its
    insert trigger stands aside in this transaction; then fill their documents with one
    statement. Rows another transaction committed meanwhile already have theirs."""
    searched = SEARCHED.get(name)
    if searched is None:
        yield
        return
    dialect = connection.dialect.name
    given = {"name": name, "last": last_id}
    connection.execute(text("INSERT INTO search_deferral (name) VALUES (:name)"), given)
    yield
    connection.execute(text("DELETE FROM search_deferral WHERE name = :name"), given)
    ident = "rowid" if dialect == "sqlite" else "id"
    connection.execute(
        text(
            f"INSERT INTO {searched} ({ident}, doc) SELECT id, doc FROM {name}_document "
            f"WHERE id > :last AND id NOT IN (SELECT {ident} FROM {searched} "
            f"WHERE {ident} > :last)"
        ),
        given,
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
    query: Select[Any], name: str, dialect: str, text: Text, record_id: ColumnElement[Any]
) -> tuple[Select[Any], ColumnElement[Any]]:
    """The query kept to the records (of `record_id`) whose search document in table `name`
    matches, and the id to order them by: the search table's where its index gives the rows
    in that order."""
    if dialect == "postgresql" and text.prefix:
        starting = _starting(name)
        pattern = _escaped(text.term) + "%"
        return query.where(record_id.in_(starting.bindparams(prefix=pattern))), record_id
    found, ident = _table(name, dialect)
    if dialect == "sqlite":
        phrase = '"' + text.sought.replace('"', '""') + '"'
        condition = literal_column(name).op("MATCH")(phrase)
    else:
        condition = found.c.doc.like(f"%{_escaped(text.sought)}%")
    return query.join(found, ident == record_id).where(condition), ident


def _escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# PostgreSQL: each searched field's own b-tree (migration 0014, the same expressions) finds the
# records with a field that starts with the text.
_CONTACT_FIELDS = (
    "lower(email)",
    "lower(first_name)",
    "lower(last_name)",
    "lower(first_name || ' ' || last_name)",
    "lower(company)",
)
_LEAD_FIELDS = ("lower(topic)", "lower(email)")


def _starting(name: str) -> TextClause:
    contacts = " UNION ALL ".join(
        f"SELECT id FROM contact WHERE {field} LIKE :prefix" for field in _CONTACT_FIELDS
    )
    if name == "contact_search":
        return text(contacts)
    leads = [f"SELECT id FROM lead WHERE {field} LIKE :prefix" for field in _LEAD_FIELDS]
    of_contacts = f"SELECT id FROM lead WHERE parent_contact_id IN ({contacts})"
    return text(" UNION ALL ".join([*leads, of_contacts]))
