"""The idempotency_expiry job: replays are answered while LEADFLOW_IDEMPOTENCY_KEEP lasts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, tuple_

from api.storage.idempotency_records import IdempotencyRecord

if TYPE_CHECKING:
    from api.jobs.definitions import JobContext

BATCH = 5000


def run(ctx: JobContext) -> None:
    """The idempotency_expiry job: delete the keys older than LEADFLOW_IDEMPOTENCY_KEEP, in
    batches; a replay of an expired key is then a new request."""
    assert ctx.run.started_at is not None
    cutoff = ctx.run.started_at - dt.timedelta(seconds=ctx.settings.idempotency_keep)
    table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
    batch = (
        select(table.c.api_key_id, table.c.key)
        .where(table.c.created_at < cutoff)
        .order_by(table.c.created_at)
        .limit(BATCH)
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
        if deleted < BATCH:
            return
