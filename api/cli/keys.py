"""`leadflow keys`: API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.errors import fail, reported
from api.settings import Settings

app = typer.Typer(no_args_is_help=True, help="API keys.")


@app.command("create")
def create(
    role: Annotated[
        str, typer.Option(help="admin, marketer, teleprospector, salesperson, service")
    ],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
    seller: Annotated[
        str | None,
        typer.Option(
            help="The handle of the seller the key acts for ('mine' in the queues). A "
            "salesperson sees the leads of this seller and their team: without one, none."
        ),
    ] = None,
) -> None:
    """Create an API key and print it; it is shown this once and stored only as a hash."""
    from sqlmodel import col, select

    from api.services import keys
    from api.storage.db import Database
    from leads.sellers import Seller

    try:
        chosen = keys.Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in keys.Role)
        raise fail([f"unknown role '{role}'; one of: {roles}"]) from None
    db = Database(Settings().database_url)
    try:
        with db.write() as session:
            if seller is not None:
                found = session.exec(select(Seller.id).where(col(Seller.handle) == seller))
                if found.first() is None:
                    raise fail([f"there is no seller '{seller}'; create it at /api/sellers"])
            key, secret = keys.create_key(
                session, chosen, name or f"{chosen.value} key", seller=seller
            )
    finally:
        db.dispose()
    typer.echo(secret)
    typer.echo(
        f"key {key.id} ({key.name}, {key.role}): keep it now, it is not shown again", err=True
    )


@app.command("list")
def list_() -> None:
    """Every API key: id, name, role, seller, prefix, when it was created and revoked. Secrets
    are not stored, so they are never shown."""
    from rich.console import Console
    from rich.table import Table

    from api.services import keys
    from api.storage.db import Database

    db = Database(Settings().database_url)
    try:
        with db.read() as session:
            found = keys.all_keys(session)
    finally:
        db.dispose()
    table = Table("id", "name", "role", "seller", "prefix", "created", "revoked")
    for key in found:
        table.add_row(
            str(key.id),
            key.name,
            key.role,
            key.seller or "",
            key.prefix,
            f"{key.created_at:%Y-%m-%d %H:%M:%S}",
            f"{key.revoked_at:%Y-%m-%d %H:%M:%S}" if key.revoked_at else "",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped or logged: one line per key
    console.print(table)


@app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix, as `keys list` shows.")],
    force: Annotated[
        bool, typer.Option("--force", help="Revoke even the last active admin key.")
    ] = False,
) -> None:
    """Revoke an API key: requests with it get 401. A running service that checked the key
    in the last LEADFLOW_KEY_CACHE_SECONDS accepts it until that time has passed."""
    from api.services import keys
    from api.storage.db import Database

    settings = Settings()
    db = Database(settings.database_url)
    try:
        with reported(keys.KeyRefused), db.write() as session:
            revoked = keys.revoke_key(session, key, force=force)
    finally:
        db.dispose()
    typer.echo(
        f"revoked key {revoked.id} ({revoked.name}, {revoked.role}); running services refuse "
        f"it within {settings.key_cache_seconds:g} s (LEADFLOW_KEY_CACHE_SECONDS)"
    )
