"""kill -9 of the scheduler halfway through re-evaluating 100,000 leads, then a restart: the
run resumes from its checkpoint within the lease time, skips no lead, writes no chunk twice,
and ends with the scores of a clean run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from api.app import Service
from api.storage import job_runs
from api.storage.job_runs import JobRun
from leads.models import Lead
from scoring.tables import EvaluationRun
from tests.jobs.helpers import expected_scores, seed, stored_scores
from tests.processes import leadflow

LEADS = 100_000
# One process whose outcomes move nobody: the evaluation's own writes are what is timed.
STAGES = """\
processes:
  - name: funnel
    stages:
      - name: new
      - name: worked
"""


def evaluation(service: Service, run_id: int) -> EvaluationRun:
    with service.db.read() as session:
        found = session.get(EvaluationRun, run_id)
    assert found is not None
    return found


@pytest.fixture
def stages_file(tmp_path: Path) -> Path:
    path = tmp_path / "stages.yaml"
    path.write_text(STAGES)
    return path


@pytest.mark.slow
def test_a_killed_scheduler_is_resumed_after_a_restart(
    service: Service, database_url: str, tmp_path: Path
) -> None:
    seed(service.db, service.catalog, LEADS, opens=3)
    with service.db.write() as session:
        queued = job_runs.queue(session, job_runs.EVALUATION, "test")
    assert queued.evaluation_run_id is not None
    env = {
        "LEADFLOW_DATABASE_URL": database_url,
        "LEADFLOW_STAGES_FILE": str(service.settings.stages_path()),
        "LEADFLOW_PERIODIC_JOBS": "false",
        "LEADFLOW_EVALUATION_CHUNK": "5000",
        "LEADFLOW_LEASE_SECONDS": "5",
        "LEADFLOW_HEARTBEAT_SECONDS": "1",
        "LEADFLOW_JOB_POLL_SECONDS": "0.5",
    }
    deadline = time.monotonic() + 120
    with leadflow("scheduler", env=env, log=tmp_path / "first.log") as first:
        while evaluation(service, queued.evaluation_run_id).done < LEADS // 2:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "the evaluation did not get halfway"
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
    cut = evaluation(service, queued.evaluation_run_id)
    assert cut.status == "running"
    assert LEADS // 2 <= cut.done < LEADS
    assert cut.checkpoint_id == cut.done  # ids 1..N: the checkpoint is the last lead written

    with leadflow("scheduler", env=env, log=tmp_path / "second.log") as second:
        while True:
            with service.db.read() as session:
                run = session.get(JobRun, queued.id)
            assert run is not None
            if run.attempts == 2:
                resumed_at = time.monotonic()
                break
            assert second.poll() is None, (tmp_path / "second.log").read_text()
            assert time.monotonic() < deadline, "the run was not resumed"
            time.sleep(0.05)
        assert resumed_at - killed_at < 60
        while (done := evaluation(service, queued.evaluation_run_id)).status != "done":
            assert done.status == "running", done.error
            assert time.monotonic() < deadline, "the resumed run did not end"
            time.sleep(0.1)
    assert (done.done, done.total, done.as_of) == (LEADS, LEADS, cut.as_of)
    assert done.outcomes == LEADS  # each lead's first score fired once, before or after the cut
    with service.db.read() as session:
        run = session.get(JobRun, queued.id)
        assert run is not None
        assert (run.status, run.attempts, run.processed) == ("done", 2, LEADS)
        versions = session.exec(
            select(Lead.version, func.count()).group_by(col(Lead.version))
        ).all()
        assert versions == [(2, LEADS)]  # each lead written once by the outcomes
    stored = stored_scores(service.db)
    assert len(stored) == LEADS  # no lead skipped
    assert stored == expected_scores(service.db, cut.as_of)
    log = (tmp_path / "second.log").read_text()
    assert "resumed" in log
