"""Search documents filled per batch: one definition of each document, and insert triggers
that stand aside while a bulk writer fills a batch's documents in one statement.

- `lead_document` and `contact_document` are views giving each record's search document (as
  0012 defines it): the triggers and the bulk writers read the documents from them.
- `search_deferral` holds, for the length of a batch, the name of a table whose insert trigger
  stands aside in that transaction (a row another transaction has not committed is not seen);
  api/storage/search.py writes and removes it.
- The insert triggers of `lead` and `contact` are made again to read the views and to stand
  aside. Fed one row at a time, SQLite's FTS5 writes a tenth of what one INSERT ... SELECT of
  the same rows does; on PostgreSQL each row of an executemany is a statement of its own, so
  the statement triggers ran once a row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _search() -> ModuleType:
    """Migration 0012, which holds the documents' definition and its original triggers."""
    path = Path(__file__).with_name("0012_search.py")
    spec = importlib.util.spec_from_file_location("migration_0012_search", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _views(m: ModuleType, newline: str) -> list[str]:
    return [
        f"""CREATE VIEW lead_document AS SELECT l.id, {m._lead_doc("l", newline)} AS doc
        FROM lead l LEFT JOIN contact c ON c.id = l.parent_contact_id""",
        f"""CREATE VIEW contact_document AS
        SELECT c.id, {m._doc(m._contact_fields("c"), newline)} AS doc FROM contact c""",
    ]


def _standing_aside(table: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM search_deferral WHERE name = '{table}')"


SQLITE = [
    "DROP TRIGGER lead_search_insert",
    "DROP TRIGGER contact_search_insert",
    f"""CREATE TRIGGER lead_search_insert AFTER INSERT ON lead WHEN {_standing_aside("lead")}
    BEGIN
        INSERT INTO lead_search (rowid, doc) SELECT id, doc FROM lead_document WHERE id = new.id;
    END""",
    f"""CREATE TRIGGER contact_search_insert AFTER INSERT ON contact
    WHEN {_standing_aside("contact")} BEGIN
        INSERT INTO contact_search (rowid, doc)
        SELECT id, doc FROM contact_document WHERE id = new.id;
    END""",
]

POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION lead_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {_standing_aside("lead")} THEN
            INSERT INTO lead_search (id, doc)
            SELECT d.id, d.doc FROM inserted n JOIN lead_document d ON d.id = n.id;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION contact_search_insert() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN
        IF {_standing_aside("contact")} THEN
            INSERT INTO contact_search (id, doc)
            SELECT d.id, d.doc FROM inserted n JOIN contact_document d ON d.id = n.id;
        END IF;
        RETURN NULL;
    END $$""",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    m = _search()
    op.execute("CREATE TABLE search_deferral (name VARCHAR(20) NOT NULL)")
    for statement in _views(m, m.NL if sqlite else m.PG_NL):
        op.execute(statement)
    for statement in SQLITE if sqlite else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    m = _search()
    if sqlite:
        op.execute("DROP TRIGGER lead_search_insert")
        op.execute("DROP TRIGGER contact_search_insert")
    original = m.SQLITE if sqlite else m.POSTGRESQL
    marks = (
        ("CREATE TRIGGER lead_search_insert", "CREATE TRIGGER contact_search_insert")
        if sqlite
        else ("CREATE FUNCTION lead_search_insert", "CREATE FUNCTION contact_search_insert")
    )
    for statement in original:
        if statement.startswith(marks):
            op.execute(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute("DROP VIEW lead_document")
    op.execute("DROP VIEW contact_document")
    op.execute("DROP TABLE search_deferral")
