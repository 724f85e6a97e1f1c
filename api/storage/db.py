"""The database: engines, sessions and the transaction discipline of the service."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

WRITE = "leadflow_write"

DbSession = Session
"""A session on the database, for code that holds one and imports neither sqlalchemy nor
sqlmodel (the HTTP controllers)."""

# PostgreSQL over TCP: an idle connection whose peer is gone is found out after about 25 s
# of silence (10 s, then 3 probes 5 s apart), and one whose data goes unacknowledged for
# 10 s is dropped. The server is told the same about the service, so it frees the locks of a
# client cut off in a transaction.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 10, 5, 3
TCP_USER_TIMEOUT_MS = 10_000
# The client waits this much longer than the server's statement_timeout, so that a server
# that can answer cancels the statement itself and the connection stays usable.
ANSWER_MARGIN_SECONDS = 1.0


class _Answering(psycopg.Connection[Any]):
    """A psycopg connection that waits at most `answer_seconds` for the server (None: as long
    as it takes): for a statement, its rows, a commit, the pool's check. When the time is up
    the connection is closed, since the answer may still come and its state is unknown; the
    error is an OperationalError on a closed connection, which SQLAlchemy takes for a
    disconnect (the pool drops it) and the service for the database away (503)."""

    answer_seconds: float | None = None

    def wait(self, gen: Any, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        if timeout is not None or self.answer_seconds is None:
            return super().wait(gen, *args, timeout=timeout, **kwargs)
        try:
            return super().wait(gen, *args, timeout=self.answer_seconds, **kwargs)
        except psycopg.errors._WaitTimeout as exc:  # psycopg's own wait deadline
            self.close()
            raise psycopg.OperationalError(
                f"the database did not answer within {self.answer_seconds:g} s"
            ) from exc


class Database:
    """Reads run in ordinary transactions; writes in transactions that hold the write lock
    from their first statement, so two writers never both read a row and then both update it.

    On PostgreSQL the writers lock the rows they change (SELECT ... FOR UPDATE); on SQLite a
    write transaction starts with BEGIN IMMEDIATE. A connection can read first and write later
    (see `writing`), which lets a long computation run without holding the write lock.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        wait_seconds: float = 30,
        connect_seconds: float = 5,
        statement_seconds: float | None = None,
    ) -> None:
        """On PostgreSQL, `connect_seconds` bounds opening a connection and
        `statement_seconds` (None or 0: no bound) a statement on the server and the wait for
        any answer from it on the client."""
        self.url = make_url(url)
        self.wait_seconds = wait_seconds
        self.statement_seconds = statement_seconds or None
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
            self.engine = self._postgresql_engine(echo=echo, connect_seconds=connect_seconds)
            # The same pool; a transaction begun through it is a write transaction.
            self.write_engine = self.engine.execution_options(**{WRITE: True})

    def _postgresql_engine(self, *, echo: bool, connect_seconds: float) -> Engine:
        engine = create_engine(
            self.url,
            echo=echo,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            pool_timeout=self.wait_seconds,
            connect_args={
                "connect_timeout": max(2, math.ceil(connect_seconds)),
                "keepalives": 1,
                "keepalives_idle": KEEPALIVE_IDLE,
                "keepalives_interval": KEEPALIVE_INTERVAL,
                "keepalives_count": KEEPALIVE_COUNT,
                "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
            },
        )
        answer_seconds = (
            None
            if self.statement_seconds is None
            else self.statement_seconds + ANSWER_MARGIN_SECONDS
        )
        session = self._postgresql_session()
        set_all = "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in session)

        @event.listens_for(engine, "do_connect")
        def _connect(
            _dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]
        ) -> _Answering:
            connection = _Answering.connect(*cargs, **cparams)
            connection.answer_seconds = answer_seconds
            try:
                # Set with SQL rather than startup options, which poolers such as PgBouncer
                # refuse.
                connection.execute(set_all, [x for item in session.items() for x in item])
                connection.commit()
            except BaseException:
                connection.close()
                raise
            return connection

        return engine

    def _postgresql_session(self) -> dict[str, str]:
        """The server's side of the bounds, for each connection's session."""
        session = {
            "tcp_keepalives_idle": str(KEEPALIVE_IDLE),
            "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL),
            "tcp_keepalives_count": str(KEEPALIVE_COUNT),
            "tcp_user_timeout": str(TCP_USER_TIMEOUT_MS),
        }
        if self.statement_seconds is not None:
            statement_ms = math.ceil(self.statement_seconds * 1000)
            session["statement_timeout"] = str(statement_ms)
            # A transaction left open by a client that is gone holds its locks until then.
            session["idle_in_transaction_session_timeout"] = str(2 * statement_ms)
        return session

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

    @contextmanager
    def unbounded(self) -> Iterator[Connection]:
        """A connection whose statements may run as long as they take, for the set-based
        statements of a full evaluation. It is closed afterwards rather than returned to the
        pool with its bounds lifted."""
        with self.engine.connect() as connection:
            if self.is_sqlite or self.statement_seconds is None:
                yield connection
                return
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.exec_driver_sql("SET idle_in_transaction_session_timeout = 0")
            connection.commit()
            driver = connection.connection.driver_connection
            assert isinstance(driver, _Answering)
            driver.answer_seconds = None
            try:
                yield connection
            finally:
                connection.invalidate()

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
