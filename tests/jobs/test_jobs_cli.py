"""`leadflow jobs`, `leadflow jobs run NAME`: the jobs' table, and a run in the foreground."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import bpf
from api.cli import app

runner = CliRunner()


def test_a_job_runs_in_the_foreground_and_shows_in_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'j.db'}")
    monkeypatch.setenv("LEADFLOW_STAGES_FILE", str(bpf.bundled_stages_file()))
    result = runner.invoke(app, ["jobs", "run", "stage_timeouts"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("job stage_timeouts: run 1 done in ")
    assert result.output.rstrip().endswith("0 processed")

    result = runner.invoke(app, ["jobs", "run", "stage_timeout"])
    assert result.exit_code == 1
    assert "there is no job 'stage_timeout'; did you mean 'stage_timeouts'?" in result.output

    result = runner.invoke(app, ["jobs"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert set(rows) == {"evaluation", "stage_timeouts", "idempotency_expiry", "webhook_redelivery"}
    assert "done" in rows["stage_timeouts"] and "15m" in rows["stage_timeouts"]
    assert "never" in rows["evaluation"]
