"""`leadflow scheduler`: the jobs, run on their intervals until stopped."""

from __future__ import annotations

import typer

import bpf
from api.cli.errors import reported
from api.cli.jobs import every
from api.settings import Settings


def scheduler() -> None:
    """Run the jobs, on their intervals and when asked, until stopped (SIGTERM, Ctrl-C): the
    scheduler of a deployment whose API processes run with --no-scheduler. Several may run;
    each job runs in one of them at a time."""
    import logging
    import signal
    import threading

    from api.app import NotMigrated, open_service
    from api.jobs.runner import JobRunner
    from api.jobs.scheduler import Scheduler

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    with reported(bpf.StagesFileError, bpf.StagesInUse, NotMigrated):
        service = open_service(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runner = JobRunner(service.db, lambda: service.catalog, settings)
    jobs = Scheduler(runner, settings)
    jobs.start()
    periodic = ", ".join(f"{j.name} every {every(j.interval)}" for j in runner.jobs.values())
    if not settings.periodic_jobs:
        periodic = "the runs asked for only"
    typer.echo(f"scheduler {runner.holder}: {periodic}", err=True)
    try:
        while not stop.wait(1):
            pass
    finally:
        jobs.stop()
        service.db.dispose()
    typer.echo(f"scheduler {runner.holder}: stopped", err=True)
