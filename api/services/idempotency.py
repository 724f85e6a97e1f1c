"""Idempotency-Key: a request replayed with the same key gets the first answer and writes
nothing twice; the same key with a different body is refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Index, delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from api.services.keys import Principal
from api.storage.db import Database
from leads.errors import InvalidInput
from leads.types import Id, JSONValue, UTCDateTime, utcnow

if TYPE_CHECKING:
    from api.jobs.definitions import JobContext

KEY_MAX = 200
EXPIRY_BATCH = 5000


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (Index("ix_idempotency_record_created_at", "created_at"),)

    api_key_id: int = Field(sa_column=Column(Id, primary_key=True))
    key: str = Field(primary_key=True, max_length=KEY_MAX)
    route: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: Any = Field(default=None, sa_column=Column(JSONValue, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def request_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# A concurrent request may store a unique value (an external id) between our check and our
# insert; the database refuses the duplicate, and the work is done again from the start.
ATTEMPTS = 3


def check_key(key: str | None) -> None:
    if key is not None and not 0 < len(key) <= KEY_MAX:
        raise InvalidInput.field("Idempotency-Key", f"must be 1 to {KEY_MAX} characters")


def run_once(
    db: Database,
    principal: Principal,
    key: str | None,
    route: str,
    body: Callable[[], Any],
    work: Callable[[Session], tuple[int, Any]],
) -> tuple[int, Any, bool]:
    """Run `work` in one write transaction, unless this key already has an answer; `body()`
    gives the request to compare with the first one under the same key.

    Returns (status code, response body, replayed). Only successful answers are kept: a
    request that failed wrote nothing and may be sent again with the same key.
    """
    for attempt in range(ATTEMPTS):
        try:
            return _run_once(db, principal, key, route, body, work)
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _run_once(
    db: Database,
    principal: Principal,
    key: str | None,
    route: str,
    body: Callable[[], Any],
    work: Callable[[Session], tuple[int, Any]],
) -> tuple[int, Any, bool]:
    if key is None:
        with db.write() as session:
            status, response = work(session)
        return status, response, False
    check_key(key)
    digest = request_hash(body())
    try:
        with db.write() as session:
            first = _answer_of(session, principal, key, route, digest)
            if first is not None:
                return first[0], first[1], True
            # Claim the key before working: a concurrent request with the same key waits here
            # (PostgreSQL) or before its transaction (SQLite), then replays this answer.
            record = IdempotencyRecord(
                api_key_id=principal.key_id,
                key=key,
                route=route,
                request_hash=digest,
                status_code=0,
                response=None,
            )
            session.add(record)
            session.flush()
            status, response = work(session)
            record.status_code, record.response = status, response
    except IntegrityError:
        with db.read() as session:
            first = _answer_of(session, principal, key, route, digest)
        if first is None:
            raise
        return first[0], first[1], True
    return status, response, False


def _answer_of(
    session: Session, principal: Principal, key: str, route: str, digest: str
) -> tuple[int, Any] | None:
    record = session.get(IdempotencyRecord, (principal.key_id, key))
    if record is None:
        return None
    if record.route != route or record.request_hash != digest:
        raise InvalidInput(
            [{"field": "Idempotency-Key", "reason": "already used with another body"}],
            slug="idempotency-key-reused",
            title="Idempotency key reused",
            detail=f"Idempotency-Key '{key}' was first used for a different request "
            f"({record.route})",
        )
    return record.status_code, record.response


def expire(ctx: JobContext) -> None:
    """The idempotency_expiry job: delete the keys older than LEADFLOW_IDEMPOTENCY_KEEP, in
    batches; a replay of an expired key is then a new request."""
    assert ctx.run.started_at is not None
    cutoff = ctx.run.started_at - dt.timedelta(seconds=ctx.settings.idempotency_keep)
    table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
    batch = (
        select(table.c.api_key_id, table.c.key)
        .where(table.c.created_at < cutoff)
        .order_by(table.c.created_at)
        .limit(EXPIRY_BATCH)
    )
    while True:
        with ctx.write() as session:
            deleted = (
                session.connection()
                .execute(delete(table).where(tuple_(table.c.api_key_id, table.c.key).in_(batch)))
                .rowcount
            )
            ctx.advance(session, add=deleted)
        ctx.notify()
        if deleted < EXPIRY_BATCH:
            return
