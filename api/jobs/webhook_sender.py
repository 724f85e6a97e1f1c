"""Delivering webhooks: a background sender claims due deliveries, sends them signed, records
each attempt, and schedules the next one with exponential backoff and jitter, until the
receiver answers 2xx or the attempts run out (the delivery is then failed, visibly). A target
webhooks may not go to (api.services.webhook_targets, checked at each connection) fails the
delivery at once, its reason in the log.

A claim is a lease: the claimed deliveries are due again only after the send timeout and a
margin, so a process killed mid-send leaves them to be sent again, never lost (at least once,
with the same webhook-id). On PostgreSQL the claim skips rows another sender holds locked
(FOR UPDATE SKIP LOCKED); on SQLite the single writer serializes the claims.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import Table, and_, bindparam, insert, select, update

from api import VERSION
from api.services import signing
from api.services.outbox import DELIVERIES, EVENTS, SUBSCRIPTIONS, message_id_floor
from api.services.webhook_targets import Refused, allowed, transport
from api.settings import Settings
from api.storage.db import Database, unavailable
from api.storage.webhook_tables import DeliveryStatus, WebhookAttempt
from leads.types import utcnow

log = logging.getLogger("leadflow.webhooks")

ATTEMPTS: Table = WebhookAttempt.__table__  # type: ignore[attr-defined]
LEASE_MARGIN = dt.timedelta(seconds=5)
ERROR_CHARS = 500
PURGE_EVERY_SECONDS = 3600.0
PURGE_BATCH = 1000


@dataclass(frozen=True)
class Job:
    delivery_id: int
    message_id: str
    body: str
    url: str
    secrets: tuple[str, ...]
    attempts: int  # made before this one
    retry_base: int


@dataclass(frozen=True)
class Result:
    job: Job
    at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    refused: bool = False  # the target is none webhooks may go to: not tried again

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _due(now: dt.datetime) -> list[object]:
    return [
        DELIVERIES.c.status == DeliveryStatus.PENDING.value,
        DELIVERIES.c.next_attempt_at <= now,
        SUBSCRIPTIONS.c.enabled.is_(True),
    ]


_JOINED = DELIVERIES.join(SUBSCRIPTIONS, SUBSCRIPTIONS.c.id == DELIVERIES.c.subscription_id)


def claim(db: Database, now: dt.datetime, limit: int, lease: dt.timedelta) -> list[Job]:
    """Take up to `limit` due deliveries, oldest first, leasing them until now + lease."""
    with db.engine.connect() as connection:
        found = connection.execute(
            select(DELIVERIES.c.id).select_from(_JOINED).where(*_due(now)).limit(1)  # type: ignore[arg-type]
        ).first()
    if found is None:
        return []
    query = (
        select(
            DELIVERIES.c.id,
            DELIVERIES.c.event_id,
            DELIVERIES.c.attempts,
            DELIVERIES.c.retry_base,
            SUBSCRIPTIONS.c.url,
            SUBSCRIPTIONS.c.secret,
            SUBSCRIPTIONS.c.previous_secret,
            SUBSCRIPTIONS.c.previous_secret_until,
            EVENTS.c.body,
        )
        .select_from(_JOINED.join(EVENTS, EVENTS.c.id == DELIVERIES.c.event_id))
        .where(*_due(now))  # type: ignore[arg-type]
        .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
        .limit(limit)
    )
    with db.write_connection() as connection:
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(of=DELIVERIES, skip_locked=True)
        rows = connection.execute(query).all()
        if not rows:
            return []
        connection.execute(
            update(DELIVERIES)
            .where(DELIVERIES.c.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now + lease)
        )
    jobs = []
    for row in rows:
        keys: tuple[str, ...] = (row.secret,)
        if row.previous_secret and row.previous_secret_until and row.previous_secret_until > now:
            keys += (row.previous_secret,)
        jobs.append(
            Job(row.id, row.event_id, row.body, row.url, keys, row.attempts, row.retry_base)
        )
    return jobs


HEADERS = {"content-type": "application/json", "user-agent": f"leadflow-webhooks/{VERSION}"}


def send(client: httpx.Client, job: Job) -> Result:
    """One attempt: POST the body, signed for this moment."""
    at = utcnow()
    stamp = int(at.timestamp())
    headers = {
        **HEADERS,
        "webhook-id": job.message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signing.signature(job.secrets, job.message_id, stamp, job.body),
    }
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    refused = False
    try:
        # The answer's body is not read: only its status counts.
        with client.stream("POST", job.url, content=job.body.encode(), headers=headers) as answer:
            status_code = answer.status_code
    except httpx.HTTPError as exc:
        error = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:ERROR_CHARS]
    except Refused as exc:
        error, refused = f"refused: {exc.reason}"[:ERROR_CHARS], True
    duration = (time.perf_counter() - started) * 1000
    return Result(job, at, status_code, error, round(duration, 3), refused)


def backoff(failures: int, settings: Settings) -> float:
    """Seconds to wait after the n-th failed attempt: doubling, capped, half of it random."""
    ceiling = min(
        settings.webhook_backoff_seconds * 2 ** (failures - 1), settings.webhook_backoff_max_seconds
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


_RECORD = (
    update(DELIVERIES)
    .where(
        and_(
            DELIVERIES.c.id == bindparam("_id"),
            DELIVERIES.c.status == DeliveryStatus.PENDING.value,
            DELIVERIES.c.attempts == bindparam("_before"),
        )
    )
    .values(
        status=bindparam("status"),
        attempts=bindparam("attempts"),
        next_attempt_at=bindparam("next_attempt_at"),
        last_status_code=bindparam("last_status_code"),
        last_error=bindparam("last_error"),
        delivered_at=bindparam("delivered_at"),
    )
)


def record(db: Database, results: list[Result], settings: Settings) -> None:
    """Log the attempts and set each delivery's state: delivered, due again, or failed. A
    delivery changed meanwhile (cancelled by an erasure, sent by another sender whose lease
    outlived this one) keeps its state; the attempt is logged all the same."""
    attempts, deliveries = [], []
    for result in results:
        job = result.job
        number = job.attempts + 1
        next_at: dt.datetime | None = None
        if result.delivered:
            status = DeliveryStatus.DELIVERED
        elif result.refused or number - job.retry_base >= settings.webhook_max_attempts:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
            wait = backoff(number - job.retry_base, settings)
            next_at = result.at + dt.timedelta(seconds=wait)
        attempts.append(
            {
                "delivery_id": job.delivery_id,
                "number": number,
                "at": result.at,
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": result.duration_ms,
                "next_retry_at": next_at,
            }
        )
        deliveries.append(
            {
                "_id": job.delivery_id,
                "_before": job.attempts,
                "status": status.value,
                "attempts": number,
                "next_attempt_at": next_at,
                "last_status_code": result.status_code,
                "last_error": result.error,
                "delivered_at": result.at if result.delivered else None,
            }
        )
    with db.write_connection() as connection:
        connection.execute(insert(ATTEMPTS), attempts)
        connection.execute(_RECORD, deliveries)


def purge(db: Database, before: dt.datetime) -> int:
    """Delete the messages older than `before` that nothing awaits any more, with their
    deliveries and attempts, a batch per transaction; return how many went. Message ids sort
    by time, so the id's primary key index finds the old ones."""
    oldest_kept = message_id_floor(before)
    pending = (
        select(DELIVERIES.c.id)
        .where(
            DELIVERIES.c.event_id == EVENTS.c.id,
            DELIVERIES.c.status == DeliveryStatus.PENDING.value,
        )
        .exists()
    )
    batch = select(EVENTS.c.id).where(EVENTS.c.id < oldest_kept, ~pending).limit(PURGE_BATCH)
    removed = 0
    while True:
        with db.write_connection() as connection:
            ids = list(connection.execute(batch).scalars())
            if ids:
                connection.execute(EVENTS.delete().where(EVENTS.c.id.in_(ids)))
        removed += len(ids)
        if len(ids) < PURGE_BATCH:
            return removed


class Sender:
    """The background worker: started with the app (or by `leadflow webhooks send`)."""

    def __init__(
        self, db: Database, settings: Settings, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.purged_at = float("-inf")

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.webhook_timeout_seconds) + LEASE_MARGIN

    def start(self) -> None:
        self.stopping.clear()
        self.thread = threading.Thread(target=self.run, name="webhooks", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.stopping.set()
            self.thread.join()
            self.thread = None

    @contextmanager
    def connections(self) -> Iterator[tuple[httpx.Client, ThreadPoolExecutor]]:
        """The HTTP client and the threads that send a round of deliveries at once."""
        settings = self.settings
        limits = httpx.Limits(max_connections=settings.webhook_concurrency)
        targets = allowed(settings.webhook_allowed_targets)
        with (
            # Not through the proxies of the environment: each connection goes straight to
            # an address the targets allow.
            httpx.Client(
                timeout=settings.webhook_timeout_seconds,
                follow_redirects=False,
                transport=transport(targets, limits),
                trust_env=False,
            ) as client,
            ThreadPoolExecutor(settings.webhook_concurrency, "webhook-send") as pool,
        ):
            yield client, pool

    def run(self) -> None:
        """Deliver until stopped: at once while there is more due, else every poll interval.
        While the database is away, deliveries wait for it (one warning, no traceback)."""
        settings = self.settings
        away = False
        with self.connections() as (client, pool):
            while not self.stopping.is_set():
                busy = False
                try:
                    busy = self.deliver(client, pool) == settings.webhook_concurrency
                    if time.monotonic() - self.purged_at > PURGE_EVERY_SECONDS:
                        self.purged_at = time.monotonic()
                        self.purge()
                except Exception as exc:
                    if not unavailable(exc):
                        log.exception("webhook delivery failed")
                    elif not away:
                        log.warning("the database is unavailable (%s); deliveries wait", exc)
                        away = True
                else:
                    if away:
                        log.info("the database answers again; deliveries go on")
                    away = False
                if not busy:
                    self.stopping.wait(settings.webhook_poll_seconds)

    def purge(self) -> int:
        """Forget the messages past the retention period that nothing awaits."""
        return purge(
            self.db, self.clock() - dt.timedelta(days=self.settings.webhook_retention_days)
        )

    def deliver(self, client: httpx.Client, pool: ThreadPoolExecutor) -> int:
        """Claim, send and record one round of deliveries; return how many were attempted."""
        jobs = claim(self.db, self.clock(), self.settings.webhook_concurrency, self.lease)
        if not jobs:
            return 0
        results = list(pool.map(lambda job: send(client, job), jobs))
        record(self.db, results, self.settings)
        return len(results)
