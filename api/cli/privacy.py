"""`leadflow privacy`: a person's data, as the right of access asks for it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import bpf
from api.cli.errors import fail, reported
from api.settings import Settings
from leads.errors import DomainError

app = typer.Typer(no_args_is_help=True, help="A person's data: the right of access.")

# Who the audit log says exported, when it was done from the command line.
ACTOR_NAME = "leadflow privacy export"


@app.command("export")
def export(
    contact_id: Annotated[int, typer.Argument(help="The contact whose person to export.")],
    database_url: Annotated[
        str | None, typer.Option(help="Default: LEADFLOW_DATABASE_URL.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the JSON document here; default: standard output.")
    ] = None,
) -> None:
    """Export everything held about the person of CONTACT_ID as one JSON document (what
    GET /api/contacts/{id}/export answers), written as it is read. The export is recorded in
    the contact's audit log. A contact that does not exist, or was erased, is an error."""
    from api.services import privacy_export
    from api.storage import migrate
    from api.storage.db import Database
    from bpf.actors import Actor, ActorKind

    settings = Settings() if database_url is None else Settings(database_url=database_url)
    with reported(bpf.StagesFileError):
        catalog = bpf.Catalog.from_file(settings.stages_path())
    db = Database(settings.database_url)
    try:
        if migrate.pending(db.engine):
            raise fail(["the database schema is not up to date: run `leadflow db upgrade`"])
        actor = Actor(ActorKind.SYSTEM, ACTOR_NAME)
        with reported(DomainError):
            pieces = privacy_export.export_contact(db, catalog, contact_id, actor)
        if output is None:
            for piece in pieces:
                typer.echo(piece, nl=False)
            typer.echo()
            return
        # Written aside and renamed: a file named FILE is always a whole document.
        partial = output.with_name(output.name + ".part")
        try:
            with partial.open("w", encoding="utf-8") as file:
                file.writelines(pieces)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    finally:
        db.dispose()
    typer.echo(f"contact {contact_id}: exported to {output}", err=True)
