"""The database a benchmark runs on: a SQLite file in a temporary directory, or a fresh
database on a PostgreSQL server that is dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.services import keys
from api.storage import migrate
from api.storage.db import Database

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@contextmanager
def bench_database(server_url: str | None, workdir: Path) -> Iterator[str]:
    """The URL of an empty database: SQLite in `workdir` when no server URL is given."""
    if server_url is None:
        yield f"sqlite:///{workdir / 'leadflow.db'}"
        return
    server = make_url(server_url)
    if server.get_backend_name() != "postgresql":
        raise ValueError("--database-url must name a PostgreSQL server")
    if server.host is not None and server.host not in LOOPBACK_HOSTS:
        raise ValueError(f"benchmarks run on loopback only, not on {server.host}")
    name = f"leadflow_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        server.set(database=server.database or "postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def prepare(database_url: str) -> str:
    """Bring the schema up to date (`leadflow db upgrade`) and return a new admin API key."""
    db = Database(database_url)
    try:
        migrate.upgrade(db.write_engine)
        with db.write() as session:
            _, secret = keys.create_key(session, keys.Role.ADMIN, "bench")
    finally:
        db.dispose()
    return secret
