"""`leadflow webhooks send`: a sender in a process of its own delivers what is due."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from api.services import outbox
from api.services import webhooks as webhook_service
from api.services.outbox import EventType
from api.services.schemas.webhooks import WebhookCreate
from api.services.webhook_targets import allowed
from api.storage import migrate
from api.storage.db import Database
from tests.patience import SETTLE_SECONDS
from tests.receiver import ALLOWED_TARGETS, Receiver, receiving


def test_the_sender_runs_as_its_own_process_and_stops_on_sigterm(database_url: str) -> None:
    inbox = Receiver()
    with receiving(inbox) as url:
        db = Database(database_url)
        try:
            migrate.upgrade(db.write_engine)
            data = WebhookCreate(url=url, event_types=["lead.created"])
            _, secret = webhook_service.create(db, data, allowed(ALLOWED_TARGETS))
            with db.write_connection() as connection:
                outbox.emit(connection, EventType.LEAD_CREATED, [{"lead_id": 1}, {"lead_id": 2}])
        finally:
            db.dispose()
        env = {
            **os.environ,
            "LEADFLOW_DATABASE_URL": database_url,
            "LEADFLOW_WEBHOOK_POLL_SECONDS": "0.05",
            "LEADFLOW_WEBHOOK_ALLOWED_TARGETS": ALLOWED_TARGETS,
        }
        sender = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "webhooks", "send"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            inbox.wait_for(lambda got: len(got) == 2)
        finally:
            sender.send_signal(signal.SIGTERM)
            output = sender.communicate(timeout=SETTLE_SECONDS)[0]
    assert sender.returncode == 0, output
    assert "delivering webhooks" in output
    assert sorted(r.message["data"]["lead_id"] for r in inbox.received) == [1, 2]
    assert secret.startswith("whsec_")
