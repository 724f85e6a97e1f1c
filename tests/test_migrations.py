"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import api.storage.tables  # noqa: F401
from api.storage import search
from api.storage.db import Database


def _modelled(name: str | None, type_: str, _parents: object) -> bool:
    """The search tables and indexes differ by dialect (FTS5 on SQLite) and are not
    modelled: the migrations own them, and api.storage.search names them."""
    return not (type_ in ("table", "index") and name in search.OBJECTS)


def test_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            opts = {"compare_type": True, "include_name": _modelled}
            context = MigrationContext.configure(connection, opts=opts)
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        db.dispose()
