"""The sender's claims (two senders at once never take the same delivery) and the purge of
old messages."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import update
from sqlmodel import col, select

from api.app import Service
from api.jobs.webhook_sender import claim, purge
from api.services import outbox, webhooks
from api.services.outbox import EventType
from api.services.schemas.webhooks import WebhookCreate
from api.services.webhook_targets import allowed
from api.storage.webhook_tables import DeliveryStatus, WebhookDelivery, WebhookEvent
from leads.types import utcnow

DELIVERIES = 60


def test_two_senders_claiming_at_once_never_take_the_same_delivery(service: Service) -> None:
    db = service.db
    data = WebhookCreate(url="http://127.0.0.1:9/hooks", event_types=["lead.created"])
    webhooks.create(db, data, allowed(service.settings.webhook_allowed_targets))
    with db.write_connection() as connection:
        rows = [{"lead_id": n} for n in range(DELIVERIES)]
        assert outbox.emit(connection, EventType.LEAD_CREATED, rows) == DELIVERIES
    now = utcnow() + dt.timedelta(seconds=1)
    taken: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def take(mine: list[int]) -> None:
        barrier.wait()
        while jobs := claim(db, now, 4, dt.timedelta(minutes=5)):
            mine += [job.delivery_id for job in jobs]

    threads = [threading.Thread(target=take, args=(t,)) for t in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    both = taken[0] + taken[1]
    assert len(both) == len(set(both)) == DELIVERIES
    assert claim(db, now, 4, dt.timedelta(minutes=5)) == []


def test_old_messages_nothing_awaits_are_purged_with_their_log(service: Service) -> None:
    db = service.db
    data = WebhookCreate(url="http://127.0.0.1:9/hooks", event_types=["lead.created"])
    webhooks.create(db, data, allowed(service.settings.webhook_allowed_targets))
    now = utcnow()
    old = now - dt.timedelta(days=40)
    with db.write_connection() as connection:
        outbox.emit(connection, EventType.LEAD_CREATED, [{"lead_id": 1}, {"lead_id": 2}], now=old)
        outbox.emit(connection, EventType.LEAD_CREATED, [{"lead_id": 3}], now=now)
    with db.write() as session:
        session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_([1, 3]))
            .values(status=DeliveryStatus.DELIVERED.value)
        )
    assert purge(db, now - dt.timedelta(days=30)) == 1
    with db.read() as session:
        left = sorted(e.lead_id or 0 for e in session.exec(select(WebhookEvent)))
        deliveries = len(session.exec(select(WebhookDelivery)).all())
    assert left == [2, 3]
    assert deliveries == 2
