"""Leases: one holder at a time for each job, across processes and machines.

A lease is a row per job: who holds it and until when. It is taken with one conditional
upsert (free, or expired), renewed by a heartbeat while the job runs, and released at the end.
Every write a job makes checks, in its own transaction, that the lease is still its holder's
(`Lease.fence`): a process that lost its lease (paused past the expiry, cut off from the
database) writes nothing more, so a chunk of work is never applied by two holders.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from types import TracebackType

from sqlalchemy import Connection, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel

from api.storage.db import Database, unavailable
from leads.types import UTCDateTime, utcnow

log = logging.getLogger("leadflow.jobs")


class JobLease(SQLModel, table=True):
    __tablename__ = "job_lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str | None = Field(default=None, max_length=200)  # host:pid:uuid; None when free
    acquired_at: dt.datetime = Field(sa_type=UTCDateTime)
    heartbeat_at: dt.datetime = Field(sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)


_TABLE = JobLease.__table__  # type: ignore[attr-defined]


class Interrupted(Exception):
    """A run stopped before its end without failing: it is resumed from its last checkpoint."""


class LeaseLost(Interrupted):
    pass


class Stopping(Interrupted):
    pass


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _upsert(connection: Connection, name: str, holder: str, seconds: float) -> bool:
    now = utcnow()
    values = {
        "name": name,
        "holder": holder,
        "acquired_at": now,
        "heartbeat_at": now,
        "expires_at": now + dt.timedelta(seconds=seconds),
    }
    dialect = connection.dialect.name
    inserting = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TABLE)
    statement = inserting.values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[_TABLE.c.name],
        set_={k: statement.excluded[k] for k in values if k != "name"},
        where=_TABLE.c.holder.is_(None) | (_TABLE.c.expires_at < now),
    )
    result = connection.execute(statement.execution_options(preserve_rowcount=True))
    return result.rowcount == 1


class Lease:
    """A lease held on a job; a context manager that renews it from a heartbeat thread while
    the block runs and releases it at the end."""

    def __init__(self, db: Database, name: str, holder: str, seconds: float, heartbeat: float):
        self.db = db
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self.heartbeat = heartbeat
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def take(
        cls, db: Database, name: str, holder: str, seconds: float, heartbeat: float
    ) -> Lease | None:
        """The lease, if it is free or has expired; None while another holds it."""
        with db.write_connection() as connection:
            if not _upsert(connection, name, holder, seconds):
                return None
        return cls(db, name, holder, seconds, heartbeat)

    def _renew(self, connection: Connection) -> bool:
        now = utcnow()
        result = connection.execute(
            update(_TABLE)
            .where(_TABLE.c.name == self.name, _TABLE.c.holder == self.holder)
            .values(heartbeat_at=now, expires_at=now + dt.timedelta(seconds=self.seconds))
            .execution_options(preserve_rowcount=True)
        )
        return result.rowcount == 1

    def fence(self, session: Session) -> None:
        """In a write transaction: renew the lease, or raise LeaseLost if another holder
        has taken it (the transaction then rolls back, writing nothing)."""
        if not self._renew(session.connection()):
            self.lost.set()
            raise LeaseLost(f"the lease on job '{self.name}' was taken over")

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                with self.db.write_connection() as connection:
                    if not self._renew(connection):
                        log.warning("lease on job %s was taken over", self.name)
                        self.lost.set()
                        return
            except Exception as exc:
                # The database is away: keep trying; the run's own writes are fenced.
                if not unavailable(exc):
                    log.exception("renewing the lease on job %s failed", self.name)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.release()

    def release(self) -> None:
        if self.lost.is_set():
            return
        try:
            with self.db.write_connection() as connection:
                now = utcnow()
                connection.execute(
                    update(_TABLE)
                    .where(_TABLE.c.name == self.name, _TABLE.c.holder == self.holder)
                    .values(holder=None, heartbeat_at=now, expires_at=now)
                )
        except Exception as exc:
            # It expires by itself; the next holder resumes whatever was left.
            if not unavailable(exc):
                raise
            log.warning("could not release the lease on job %s: %s", self.name, exc)
