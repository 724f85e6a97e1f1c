"""The `leadflow` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import bpf
from api.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="leadflow lead management.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

StagesFile = Annotated[
    Path | None,
    typer.Argument(help="A stages.yaml; default: LEADFLOW_STAGES_FILE, ./stages.yaml, bundled."),
]


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(code=1)


def _catalog(path: Path) -> bpf.Catalog:
    try:
        return bpf.Catalog.from_file(path)
    except bpf.StagesFileError as exc:
        raise _fail([str(p) for p in exc.problems]) from None


@app.command()
def validate(file: StagesFile = None) -> None:
    """Check a stages.yaml: every problem with its line, or a one-line summary."""
    path = file or Settings().stages_path()
    catalog = _catalog(path)
    processes = catalog.definition.processes
    stages = sum(len(p.stages) for p in processes)
    transitions = sum(len(p.transitions) for p in processes)
    automations = sum(len(p.automations) for p in processes)
    typer.echo(
        f"{path}: valid: {len(processes)} process{'es' if len(processes) != 1 else ''} "
        f"(default {catalog.default.name}), {stages} stages, {transitions} transitions, "
        f"{automations} automations"
    )


@app.command()
def diagram(
    file: StagesFile = None,
    process: Annotated[str | None, typer.Option(help="One process; default: all.")] = None,
    svg: Annotated[
        Path | None, typer.Option(help="Also write SVG here (needs graphviz installed).")
    ] = None,
) -> None:
    """Draw the processes as Mermaid state diagrams."""
    from bpf.diagram import mermaid, svg_available
    from bpf.diagram import svg as render_svg

    catalog = _catalog(file or Settings().stages_path())
    try:
        chosen = [catalog.get(process)] if process else list(catalog.processes.values())
    except bpf.UnknownName as exc:
        raise _fail([exc.message + (f"; {exc.hint}" if exc.hint else "")]) from None
    typer.echo("\n".join(mermaid(item) for item in chosen), nl=False)
    if svg is not None:
        if not svg_available():
            raise _fail(
                ["SVG needs graphviz: pip install 'leadflow[diagrams]' and the dot program"]
            )
        if len(chosen) > 1:
            raise _fail(["--svg draws one process: choose it with --process"])
        svg.write_bytes(render_svg(chosen[0]))
        typer.echo(f"wrote {svg}", err=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to LEADFLOW_DATABASE_URL."""
    from api import migrate
    from api.db import Database

    settings = Settings()
    db = Database(settings.database_url)
    try:
        migrate.upgrade(db.write_engine)
    finally:
        db.dispose()
    typer.echo(f"database {db.url.render_as_string(hide_password=True)} is up to date")


@keys_app.command("create")
def keys_create(
    role: Annotated[
        str, typer.Option(help="admin, marketer, teleprospector, salesperson, service")
    ],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
) -> None:
    """Create an API key and print it; it is shown this once and stored only as a hash."""
    from api import keys
    from api.db import Database

    try:
        chosen = keys.Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in keys.Role)
        raise _fail([f"unknown role '{role}'; one of: {roles}"]) from None
    db = Database(Settings().database_url)
    try:
        with db.write() as session:
            key, secret = keys.create_key(session, chosen, name or f"{chosen.value} key")
    finally:
        db.dispose()
    typer.echo(secret)
    typer.echo(
        f"key {key.id} ({key.name}, {key.role}): keep it now, it is not shown again", err=True
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: LEADFLOW_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: LEADFLOW_PORT or 8000")] = None,
) -> None:
    """Run the API. An embedded SQLite database is created and migrated as needed."""
    import uvicorn

    from api.app import NotMigrated, create_app, open_service

    settings = Settings()
    try:
        service = open_service(settings)
    except bpf.StagesFileError as exc:
        raise _fail([str(p) for p in exc.problems]) from None
    except bpf.StagesInUse as exc:
        raise _fail([f"{settings.stages_path()}: {p}" for p in exc.problems]) from None
    except NotMigrated as exc:
        raise _fail([str(exc)]) from None
    typer.echo(f"processes from {service.catalog.source}; database {service.db.url}", err=True)
    if service.first_admin_key:
        typer.echo(
            "First start: an admin API key was created. It is shown once; keep it:\n"
            f"  {service.first_admin_key}",
        )
    try:
        uvicorn.run(
            create_app(service),
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
        )
    finally:
        service.db.dispose()


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
