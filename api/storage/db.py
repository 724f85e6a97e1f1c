"""The database: engines, sessions and the transaction discipline of the service."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

WRITE = "leadflow_write"

DbSession = Session
"""A session on the database, for code that holds one and imports neither sqlalchemy nor
sqlmodel (the HTTP controllers)."""


class Database:
    """Reads run in ordinary transactions; writes in transactions that hold the write lock
    from their first statement, so two writers never both read a row and then both update it.

    On PostgreSQL the writers lock the rows they change (SELECT ... FOR UPDATE); on SQLite a
    write transaction starts with BEGIN IMMEDIATE. A connection can read first and write later
    (see `writing`), which lets a long computation run without holding the write lock.
    """

    def __init__(self, url: str, *, echo: bool = False, wait_seconds: float = 30) -> None:
        self.url = make_url(url)
        self.wait_seconds = wait_seconds
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._checkpointer: _Checkpointer | None = None
        if self.is_sqlite:
            if self.url.database in (None, "", ":memory:"):
                raise ValueError("leadflow needs a SQLite file, not an in-memory database")
            self.engine = self._sqlite_engine(echo=echo)
            # One connection writes. Writers wait their turn for it in the pool, in order,
            # instead of polling SQLite's lock, and its page cache stays valid from one
            # transaction to the next (a connection's cache is dropped when another wrote).
            # The WAL is copied back by a thread of its own (see _Checkpointer). The writer
            # checkpoints itself only when the WAL reaches 200 MB: under a steady stream of
            # writes a passive checkpoint never catches up with the last commit, and only the
            # writer can then start the WAL over (most of it is copied back by then).
            self.write_engine = self._sqlite_engine(
                echo=echo,
                pool_size=1,
                max_overflow=0,
                pool_timeout=wait_seconds,
                cache_mib=64,
                checkpoint_pages=50_000,
            ).execution_options(**{WRITE: True})
            self._checkpointer = _Checkpointer(self.url.database)
            self._checkpointer.start()
        else:
            self.engine = create_engine(
                self.url,
                echo=echo,
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
                pool_timeout=wait_seconds,
                connect_args={"connect_timeout": max(1, round(wait_seconds))},
            )
            # The same pool; a transaction begun through it is a write transaction.
            self.write_engine = self.engine.execution_options(**{WRITE: True})

    def _sqlite_engine(
        self, *, echo: bool, cache_mib: int = 2, checkpoint_pages: int = 1000, **pool: Any
    ) -> Engine:
        engine = create_engine(
            self.url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": self.wait_seconds},
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={round(self.wait_seconds * 1000)}")
            cursor.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint_pages}")
            # A WAL that grew is cut back to 64 MB when it starts over.
            cursor.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            write = connection.get_execution_options().get(WRITE, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block ends and rolls back if it raises."""
        with Session(self.write_engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A write transaction on a bare connection, for hot paths that need no ORM."""
        with self.write_engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()
        self.write_engine.dispose()


class _Checkpointer(threading.Thread):
    """Copies the SQLite WAL back into the database file, once a second, on a connection and a
    thread of its own. A checkpoint syncs the WAL and then the database file; done by the
    writer at commit, every writer queued behind it would wait for those syncs. PASSIVE: it
    never blocks the writer or a reader, and what it cannot copy yet it copies next time."""

    def __init__(self, path: str, interval: float = 1.0) -> None:
        super().__init__(name=f"leadflow-wal-checkpoint {path}", daemon=True)
        self._path = path
        self._interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            connection = sqlite3.connect(self._path, timeout=0)
        except sqlite3.Error:
            return  # no such file: the engine reports it to whoever uses the database
        try:
            while not self._stopping.wait(self._interval):
                # Busy when another checkpoint runs: this one's turn comes next second.
                with suppress(sqlite3.OperationalError):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def writing(connection: Connection) -> Connection:
    """Make the connection's next transactions write transactions."""
    return connection.execution_options(**{WRITE: True})


def reading(connection: Connection) -> Connection:
    """Make the connection's next transactions ordinary ones again."""
    return connection.execution_options(**{WRITE: False})


def answers(db: Database) -> bool:
    """Whether the database answers a query now."""
    try:
        with db.read() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def unavailable(exc: BaseException) -> bool:
    """Whether the database is away or too busy to answer now (down, unreachable, locked
    beyond the wait, no connection free in time): worth trying again later."""
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
