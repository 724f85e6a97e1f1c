"""The `leadflow` command line: the root group, and the commands and groups it runs."""

from __future__ import annotations

import typer

from api.cli import db, evaluate, imports, jobs, keys, privacy, scheduler, serve, stages, webhooks

app = typer.Typer(no_args_is_help=True, add_completion=False, help="leadflow lead management.")
app.command()(stages.validate)
app.command()(stages.diagram)
app.command("import")(imports.import_)
app.command()(evaluate.evaluate)
app.command()(scheduler.scheduler)
app.command()(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(jobs.app, name="jobs")
app.add_typer(privacy.app, name="privacy")


def main() -> None:
    app()
