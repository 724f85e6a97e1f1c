"""The sender's claims: two senders at once never take the same delivery."""

from __future__ import annotations

import datetime as dt
import threading

from api import events, webhook_service
from api.app import Service
from api.events import EventType
from api.schemas.webhooks import WebhookCreate
from api.webhook_sender import claim
from leads.types import utcnow

DELIVERIES = 60


def test_two_senders_claiming_at_once_never_take_the_same_delivery(service: Service) -> None:
    db = service.db
    data = WebhookCreate(url="http://127.0.0.1:9/hooks", event_types=["lead.created"])
    webhook_service.create(db, data)
    with db.write_connection() as connection:
        rows = [{"lead_id": n} for n in range(DELIVERIES)]
        assert events.emit(connection, EventType.LEAD_CREATED, rows) == DELIVERIES
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
