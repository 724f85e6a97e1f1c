"""Search: indexes for finding leads and contacts by text, score, and time.

Text: one search document per lead (its topic and email, and its parent contact's email, first,
last and full name, and company) and one per contact (email, names, company), lower-cased,
each field after a newline, so that "a field starts with x" is "the document contains
newline + x". The documents live in `lead_search` and `contact_search`, kept in step by
triggers, so every writer (the API, the CSV import's bulk inserts, erasure) keeps them true:
- SQLite: FTS5 tables with the trigram tokenizer (rowid = the record's id); MATCH of a quoted
  phrase is a case-insensitive substring search.
- PostgreSQL: plain tables (id, doc) with a GIN trigram index on doc (pg_trgm) serving LIKE.
They are not in the SQLModel metadata: api/storage/search.py names them for the migrations
test to leave alone.

Scores: lead_score by (model, score, lead) for a model's score range and order; leads by
created and updated time.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NL = "char(10)"  # SQLite; PostgreSQL spells it chr(10)


def _doc(fields: Sequence[str], newline: str) -> str:
    parts = " || ".join(f"{newline} || coalesce({field}, '')" for field in fields)
    return f"lower({parts})"


def _contact_fields(row: str) -> list[str]:
    return [
        f"{row}.email",
        f"{row}.first_name",
        f"{row}.last_name",
        f"{row}.first_name || ' ' || {row}.last_name",
        f"{row}.company",
    ]


def _lead_doc(lead: str, newline: str) -> str:
    return _doc([f"{lead}.topic", f"{lead}.email", *_contact_fields("c")], newline)


SQLITE = [
    "CREATE VIRTUAL TABLE lead_search USING fts5(doc, tokenize='trigram')",
    "CREATE VIRTUAL TABLE contact_search USING fts5(doc, tokenize='trigram')",
    f"""CREATE TRIGGER lead_search_insert AFTER INSERT ON lead BEGIN
        INSERT INTO lead_search (rowid, doc) SELECT new.id, {_lead_doc("new", NL)}
        FROM (SELECT 1) LEFT JOIN contact c ON c.id = new.parent_contact_id;
    END""",
    f"""CREATE TRIGGER lead_search_update AFTER UPDATE OF topic, email, parent_contact_id ON lead
    WHEN old.topic IS NOT new.topic OR old.email IS NOT new.email
        OR old.parent_contact_id IS NOT new.parent_contact_id BEGIN
        DELETE FROM lead_search WHERE rowid = old.id;
        INSERT INTO lead_search (rowid, doc) SELECT new.id, {_lead_doc("new", NL)}
        FROM (SELECT 1) LEFT JOIN contact c ON c.id = new.parent_contact_id;
    END""",
    """CREATE TRIGGER lead_search_delete AFTER DELETE ON lead BEGIN
        DELETE FROM lead_search WHERE rowid = old.id;
    END""",
    f"""CREATE TRIGGER contact_search_insert AFTER INSERT ON contact BEGIN
        INSERT INTO contact_search (rowid, doc) VALUES (new.id, {_doc(_contact_fields("new"), NL)});
    END""",
    f"""CREATE TRIGGER contact_search_update
    AFTER UPDATE OF email, first_name, last_name, company ON contact
    WHEN old.email IS NOT new.email OR old.first_name IS NOT new.first_name
        OR old.last_name IS NOT new.last_name OR old.company IS NOT new.company BEGIN
        DELETE FROM contact_search WHERE rowid = old.id;
        INSERT INTO contact_search (rowid, doc) VALUES (new.id, {_doc(_contact_fields("new"), NL)});
        DELETE FROM lead_search
        WHERE rowid IN (SELECT id FROM lead WHERE parent_contact_id = new.id);
        INSERT INTO lead_search (rowid, doc) SELECT l.id, {_lead_doc("l", NL)}
        FROM lead l JOIN contact c ON c.id = l.parent_contact_id WHERE l.parent_contact_id = new.id;
    END""",
    """CREATE TRIGGER contact_search_delete AFTER DELETE ON contact BEGIN
        DELETE FROM contact_search WHERE rowid = old.id;
    END""",
    f"""INSERT INTO lead_search (rowid, doc) SELECT l.id, {_lead_doc("l", NL)}
        FROM lead l LEFT JOIN contact c ON c.id = l.parent_contact_id""",
    f"""INSERT INTO contact_search (rowid, doc)
        SELECT c.id, {_doc(_contact_fields("c"), NL)} FROM contact c""",
]

PG_NL = "chr(10)"
# Statement triggers read the inserted rows as a table: one statement for a bulk insert.
POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE TABLE lead_search (
        id BIGINT PRIMARY KEY REFERENCES lead (id) ON DELETE CASCADE, doc TEXT NOT NULL)""",
    """CREATE TABLE contact_search (
        id BIGINT PRIMARY KEY REFERENCES contact (id) ON DELETE CASCADE, doc TEXT NOT NULL)""",
    f"""CREATE FUNCTION lead_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO lead_search (id, doc) SELECT n.id, {_lead_doc("n", PG_NL)}
        FROM inserted n LEFT JOIN contact c ON c.id = n.parent_contact_id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER lead_search_insert AFTER INSERT ON lead
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION lead_search_insert()""",
    f"""CREATE FUNCTION lead_search_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        UPDATE lead_search SET doc = (SELECT {_lead_doc("NEW", PG_NL)}
            FROM (SELECT 1) AS one LEFT JOIN contact c ON c.id = NEW.parent_contact_id)
        WHERE id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER lead_search_update AFTER UPDATE OF topic, email, parent_contact_id ON lead
        FOR EACH ROW WHEN (OLD.topic IS DISTINCT FROM NEW.topic
            OR OLD.email IS DISTINCT FROM NEW.email
            OR OLD.parent_contact_id IS DISTINCT FROM NEW.parent_contact_id)
        EXECUTE FUNCTION lead_search_update()""",
    f"""CREATE FUNCTION contact_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO contact_search (id, doc)
        SELECT n.id, {_doc(_contact_fields("n"), PG_NL)} FROM inserted n;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER contact_search_insert AFTER INSERT ON contact REFERENCING NEW TABLE AS
        inserted FOR EACH STATEMENT EXECUTE FUNCTION contact_search_insert()""",
    f"""CREATE FUNCTION contact_search_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        UPDATE contact_search SET doc = {_doc(_contact_fields("NEW"), PG_NL)} WHERE id = NEW.id;
        UPDATE lead_search s SET doc = {_lead_doc("l", PG_NL)}
        FROM lead l JOIN contact c ON c.id = l.parent_contact_id
        WHERE l.parent_contact_id = NEW.id AND s.id = l.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER contact_search_update
        AFTER UPDATE OF email, first_name, last_name, company ON contact
        FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email
            OR OLD.first_name IS DISTINCT FROM NEW.first_name
            OR OLD.last_name IS DISTINCT FROM NEW.last_name
            OR OLD.company IS DISTINCT FROM NEW.company)
        EXECUTE FUNCTION contact_search_update()""",
    f"""INSERT INTO lead_search (id, doc) SELECT l.id, {_lead_doc("l", PG_NL)}
        FROM lead l LEFT JOIN contact c ON c.id = l.parent_contact_id""",
    f"""INSERT INTO contact_search (id, doc)
        SELECT c.id, {_doc(_contact_fields("c"), PG_NL)} FROM contact c""",
    "CREATE INDEX ix_lead_search_doc ON lead_search USING gin (doc gin_trgm_ops)",
    "CREATE INDEX ix_contact_search_doc ON contact_search USING gin (doc gin_trgm_ops)",
]

DROP_SQLITE = [
    *(
        f"DROP TRIGGER {t}_{e}"
        for t in ("lead_search", "contact_search")
        for e in ("insert", "update", "delete")
    ),
    "DROP TABLE lead_search",
    "DROP TABLE contact_search",
]
DROP_POSTGRESQL = [
    "DROP TABLE lead_search",
    "DROP TABLE contact_search",
    "DROP TRIGGER lead_search_insert ON lead",
    "DROP TRIGGER lead_search_update ON lead",
    "DROP TRIGGER contact_search_insert ON contact",
    "DROP TRIGGER contact_search_update ON contact",
    *(
        f"DROP FUNCTION {t}_{e}()"
        for t in ("lead_search", "contact_search")
        for e in ("insert", "update")
    ),
]


def upgrade() -> None:
    statements = SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL
    for statement in statements:
        op.execute(statement)
    op.create_index("ix_lead_score_model_score", "lead_score", ["model_id", "score", "lead_id"])
    op.create_index("ix_lead_created_at_id", "lead", ["created_at", "id"])
    op.create_index("ix_lead_updated_at_id", "lead", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_lead_updated_at_id", "lead")
    op.drop_index("ix_lead_created_at_id", "lead")
    op.drop_index("ix_lead_score_model_score", "lead_score")
    statements = DROP_SQLITE if op.get_bind().dialect.name == "sqlite" else DROP_POSTGRESQL
    for statement in statements:
        op.execute(statement)
