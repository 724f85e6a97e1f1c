"""`leadflow serve`: the API, and the jobs unless another process runs them."""

from __future__ import annotations

from typing import Annotated

import typer

import bpf
from api.cli.errors import reported
from api.settings import Settings


def serve(
    host: Annotated[str | None, typer.Option(help="Default: LEADFLOW_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: LEADFLOW_PORT or 8000")] = None,
    no_scheduler: Annotated[
        bool,
        typer.Option(
            "--no-scheduler",
            help="Run no jobs here: separate `leadflow scheduler` processes run them.",
        ),
    ] = False,
) -> None:
    """Run the API, and the jobs unless --no-scheduler. An embedded SQLite database is
    created and migrated as needed."""
    import gc
    from concurrent.futures import ThreadPoolExecutor

    import uvicorn
    from litestar.concurrency import set_asyncio_executor

    from api.app import NotMigrated, create_app, open_service

    settings = Settings()
    if no_scheduler:
        settings = settings.model_copy(update={"scheduler": False})
    with reported(bpf.StagesFileError, bpf.StagesInUse, NotMigrated, stages=settings.stages_path()):
        service = open_service(settings)
    typer.echo(f"processes from {service.catalog.source}; database {service.db.url}", err=True)
    if service.first_admin_key:
        typer.echo(
            "First start: an admin API key was created. It is shown once; keep it:\n"
            f"  {service.first_admin_key}",
        )
    set_asyncio_executor(
        ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="handler")
    )
    asgi_app = create_app(service)
    # What the service holds for its lifetime (the app, its routes and schemas) is never
    # garbage: frozen, the collector does not walk it again on every full collection. A batch
    # request allocates thousands of objects at once; collecting every 700 of them is waste.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        uvicorn.run(
            asgi_app,
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            # The app reads forwarded headers itself, from LEADFLOW_TRUSTED_PROXIES only.
            proxy_headers=False,
        )
    finally:
        service.db.dispose()
