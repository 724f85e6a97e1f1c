"""`leadflow webhooks`: webhook deliveries."""

from __future__ import annotations

import typer

from api.cli.errors import fail
from api.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Webhook deliveries.")


@app.command("send")
def send() -> None:
    """Deliver webhooks until stopped (Ctrl-C), beside API processes that run with
    LEADFLOW_WEBHOOK_SENDER=false. Several senders may share a PostgreSQL database."""
    import signal
    import threading

    from api.jobs.webhook_sender import Sender
    from api.storage import migrate
    from api.storage.db import Database

    settings = Settings()
    db = Database(
        settings.database_url,
        wait_seconds=settings.database_wait_seconds,
        connect_seconds=settings.database_connect_seconds,
        statement_seconds=settings.database_statement_seconds,
    )
    try:
        if migrate.pending(db.engine):
            raise fail(["the database schema is not up to date: run `leadflow db upgrade`"])
        sender = Sender(db, settings)
        stopped = threading.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stopped.set())
        sender.start()
        typer.echo(f"delivering webhooks from {db.url.render_as_string(hide_password=True)}")
        stopped.wait()
        sender.stop()
    finally:
        db.dispose()
