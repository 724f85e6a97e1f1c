"""Idempotency-Key: a request replayed with the same key gets the first answer and writes
nothing twice; the same key with a different body is refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.services.keys import Principal
from api.storage.db import Database
from api.storage.idempotency_records import KEY_MAX, IdempotencyRecord
from leads.errors import InvalidInput


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
