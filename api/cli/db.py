"""`leadflow db`: the database schema."""

from __future__ import annotations

import typer

from api.settings import Settings

app = typer.Typer(no_args_is_help=True, help="The database schema.")


@app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration to LEADFLOW_DATABASE_URL."""
    from api.storage import migrate
    from api.storage.db import Database

    settings = Settings()
    db = Database(settings.database_url)
    try:
        migrate.upgrade(db.write_engine)
    finally:
        db.dispose()
    typer.echo(f"database {db.url.render_as_string(hide_password=True)} is up to date")
