"""Webhook subscriptions, their delivery log, retries, and what an erasure leaves of events."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection

from sqlalchemy import Connection, bindparam, or_, select, update
from sqlmodel import col
from sqlmodel import select as select_models

from api.services import signing, webhook_targets
from api.services.outbox import DELIVERIES, EVENTS, EventType
from api.services.schemas.webhooks import (
    DeliveryRead,
    SecretRotation,
    WebhookCreate,
    WebhookUpdate,
)
from api.services.webhook_targets import Targets
from api.storage.bulk import in_values
from api.storage.db import Database
from api.storage.locking import Expected, locked
from api.storage.paging import decode_cursor, encode_cursor
from api.storage.webhook_tables import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from leads.errors import Conflict, InvalidInput, NotFound
from leads.types import utcnow

KIND = "webhook"
# How long the previous secret keeps signing after a rotation.
ROTATION_OVERLAP = dt.timedelta(hours=24)


def _check_target(url: str, targets: Targets) -> None:
    try:
        webhook_targets.check_url(url, targets)
    except webhook_targets.Refused as exc:
        raise InvalidInput([{"field": "url", "reason": exc.reason}]) from None


def create(db: Database, data: WebhookCreate, targets: Targets) -> tuple[WebhookSubscription, str]:
    """Subscribe; InvalidInput when the URL is no target webhooks may go to."""
    _check_target(data.url, targets)
    secret = data.secret or signing.new_secret()
    row = WebhookSubscription(
        url=data.url,
        description=data.description,
        event_types=list(data.event_types),
        secret=secret,
        enabled=data.enabled,
    )
    with db.write() as session:
        session.add(row)
    return row, secret


def listing(db: Database) -> list[WebhookSubscription]:
    with db.read() as session:
        query = select_models(WebhookSubscription).order_by(col(WebhookSubscription.id))
        return list(session.exec(query))


def get(db: Database, webhook_id: int) -> WebhookSubscription:
    with db.read() as session:
        row = session.get(WebhookSubscription, webhook_id)
    if row is None:
        raise NotFound(KIND, webhook_id)
    return row


def update_subscription(
    db: Database,
    webhook_id: int,
    expected: Expected | None,
    data: WebhookUpdate,
    targets: Targets,
) -> WebhookSubscription:
    if "url" in data.model_fields_set and data.url is not None:
        _check_target(data.url, targets)
    with db.write() as session:
        row = locked(session, WebhookSubscription, webhook_id, expected, KIND)
        changed = False
        for name in data.model_fields_set:
            value = getattr(data, name)
            if getattr(row, name) != value:
                setattr(row, name, list(value) if name == "event_types" else value)
                changed = True
        if changed:
            row.version += 1
            row.updated_at = utcnow()
            session.add(row)
    return row


def remove(db: Database, webhook_id: int, expected: Expected | None) -> None:
    """Delete the subscription with its delivery log; events no other subscription awaits go."""
    with db.write() as session:
        row = locked(session, WebhookSubscription, webhook_id, expected, KIND)
        others = (
            select(DELIVERIES.c.id)
            .where(DELIVERIES.c.event_id == EVENTS.c.id, DELIVERIES.c.subscription_id != webhook_id)
            .exists()
        )
        mine = select(DELIVERIES.c.event_id).where(DELIVERIES.c.subscription_id == webhook_id)
        session.connection().execute(
            EVENTS.delete().where(EVENTS.c.id.in_(mine.scalar_subquery()), ~others)
        )
        session.delete(row)


def rotate(
    db: Database, webhook_id: int, expected: Expected | None, data: SecretRotation
) -> tuple[WebhookSubscription, str]:
    """A new secret signs from now on; the previous one signs too for ROTATION_OVERLAP."""
    secret = data.secret or signing.new_secret()
    with db.write() as session:
        row = locked(session, WebhookSubscription, webhook_id, expected, KIND)
        now = utcnow()
        row.previous_secret, row.previous_secret_until = row.secret, now + ROTATION_OVERLAP
        row.secret = secret
        row.version += 1
        row.updated_at = now
        session.add(row)
    return row, secret


# -- the delivery log -------------------------------------------------------------------------


def deliveries(
    db: Database,
    webhook_id: int,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[DeliveryRead], str | None]:
    """The subscription's deliveries, newest last, each with every attempt made."""
    get(db, webhook_id)
    where = [
        col(WebhookDelivery.subscription_id) == webhook_id,
        col(WebhookDelivery.id) > decode_cursor(cursor),
    ]
    if status is not None:
        where.append(col(WebhookDelivery.status) == status.value)
    with db.read() as session:
        query = (
            select_models(WebhookDelivery, WebhookEvent.type)
            .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
            .where(*where)
            .order_by(col(WebhookDelivery.id))
            .limit(limit + 1)
        )
        rows = list(session.exec(query))
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1][0].id or 0)
        ids = [d.id for d, _ in rows]
        attempts: dict[int, list[WebhookAttempt]] = {}
        if ids:
            found = session.exec(
                select_models(WebhookAttempt)
                .where(col(WebhookAttempt.delivery_id).in_(ids))
                .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.number))
            )
            for attempt in found:
                attempts.setdefault(attempt.delivery_id, []).append(attempt)
    items = [DeliveryRead.of(d, t, attempts.get(d.id or 0, [])) for d, t in rows]
    return items, next_cursor


def delivery(db: Database, webhook_id: int, delivery_id: int) -> DeliveryRead:
    with db.read() as session:
        found = session.exec(
            select_models(WebhookDelivery, WebhookEvent.type)
            .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
            .where(
                col(WebhookDelivery.id) == delivery_id,
                col(WebhookDelivery.subscription_id) == webhook_id,
            )
        ).first()
        if found is None:
            raise NotFound(f"delivery of webhook {webhook_id},", delivery_id)
        attempts = list(
            session.exec(
                select_models(WebhookAttempt)
                .where(col(WebhookAttempt.delivery_id) == delivery_id)
                .order_by(col(WebhookAttempt.number))
            )
        )
    return DeliveryRead.of(found[0], found[1], attempts)


def retry(db: Database, webhook_id: int, delivery_id: int) -> DeliveryRead:
    """Send a failed or delivered message again now, with a fresh round of attempts."""
    with db.write() as session:
        row = session.exec(
            select_models(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == delivery_id,
                col(WebhookDelivery.subscription_id) == webhook_id,
            )
            .with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"delivery of webhook {webhook_id},", delivery_id)
        if row.status not in (DeliveryStatus.FAILED.value, DeliveryStatus.DELIVERED.value):
            raise Conflict(
                f"the delivery is {row.status}: only a failed or delivered one can be sent again",
                slug="delivery-state",
                title="Not in this state",
                status_now=row.status,
            )
        row.status = DeliveryStatus.PENDING.value
        row.retry_base = row.attempts
        row.next_attempt_at = utcnow()
        row.delivered_at = None
        session.add(row)
    return delivery(db, webhook_id, delivery_id)


# -- erasure ----------------------------------------------------------------------------------


def forget(connection: Connection, lead_ids: Collection[int], contact_ids: Collection[int]) -> int:
    """An erased person's events keep only whom they were about; those not yet delivered are
    cancelled. In the erasure's transaction. Return the events redacted."""
    dialect = connection.dialect.name
    about: list[object] = []
    if lead_ids:
        about.append(in_values(EVENTS.c.lead_id, lead_ids, dialect))
    if contact_ids:
        about.append(in_values(EVENTS.c.contact_id, contact_ids, dialect))
    if not about:
        return 0
    found = connection.execute(
        select(EVENTS.c.id, EVENTS.c.body, EVENTS.c.lead_id, EVENTS.c.contact_id).where(
            or_(*about),  # type: ignore[arg-type]
            EVENTS.c.type != EventType.CONTACT_ERASED.value,
        )
    ).all()
    if not found:
        return 0
    redacted = []
    for event in found:
        message = json.loads(event.body)
        subject = {"lead_id": event.lead_id} if event.lead_id is not None else {}
        if event.contact_id is not None:
            subject["contact_id"] = event.contact_id
        message["data"] = {**subject, "erased": True}
        redacted.append({"_id": event.id, "body": json.dumps(message, separators=(",", ":"))})
    connection.execute(
        update(EVENTS).where(EVENTS.c.id == bindparam("_id")).values(body=bindparam("body")),
        redacted,
    )
    ids = [e.id for e in found]
    connection.execute(
        update(DELIVERIES)
        .where(
            in_values(DELIVERIES.c.event_id, ids, dialect),
            DELIVERIES.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]),
        )
        .values(status=DeliveryStatus.CANCELLED.value, next_attempt_at=None)
    )
    return len(found)
