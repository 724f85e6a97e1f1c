"""Full evaluations run one at a time, in the background of the service, in the order asked."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from sqlmodel import col, select

import bpf
from api import scoring_service
from api.db import Database
from scoring.tables import EvaluationRun, RunStatus

log = logging.getLogger("leadflow.evaluations")


class Runner:
    def __init__(self, db: Database, catalog: Callable[[], bpf.Catalog]) -> None:
        self.db = db
        self.catalog = catalog
        self.queue: queue.Queue[int | None] = queue.Queue()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start working, beginning with runs a previous process left queued or unfinished."""
        with self.db.write() as session:
            left = session.exec(
                select(EvaluationRun)
                .where(col(EvaluationRun.status).in_([RunStatus.QUEUED, RunStatus.RUNNING]))
                .order_by(col(EvaluationRun.id))
            ).all()
            for run in left:
                run.status = RunStatus.QUEUED.value
        for run in left:
            assert run.id is not None
            self.queue.put(run.id)
        self.thread = threading.Thread(target=self._work, name="evaluations", daemon=True)
        self.thread.start()

    def submit(self, run_id: int) -> None:
        self.queue.put(run_id)

    def stop(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None

    def _work(self) -> None:
        while (run_id := self.queue.get()) is not None:
            try:
                scoring_service.evaluate(self.db, self.catalog(), run_id)
            except Exception:
                log.exception("evaluation run %s failed", run_id)
