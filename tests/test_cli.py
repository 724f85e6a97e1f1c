"""The `leadflow` command line, run the way an admin runs it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import bpf
from api.cli import app
from tests.patience import HTTP_SECONDS, START_SECONDS

runner = CliRunner()
BUNDLED = bpf.bundled_stages_file()


def test_validate_summarises_a_valid_file() -> None:
    result = runner.invoke(app, ["validate", str(BUNDLED)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"{BUNDLED}: valid: 1 process (default lead_to_opportunity), 5 stages, "
        "4 transitions, 4 automations"
    )


def test_validate_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "stages.yaml"
    broken.write_text(
        BUNDLED.read_text()
        .replace("dest: sales_acceptance", "dest: sales_acceptanse")
        .replace("switch: automatic_sales_ready", "switch: automatic_sales_redy")
    )
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        rf"{re.escape(str(broken))}:\d+: destination 'sales_acceptanse' is not a stage of "
        r"process 'lead_to_opportunity' \(did you mean 'sales_acceptance'\?\)",
        lines[0],
    )
    assert (
        "'automatic_sales_redy', which is not a switch (did you mean 'automatic_sales_ready'?)"
        in lines[1]
    )


def test_validate_reports_yaml_syntax_and_missing_files(tmp_path: Path) -> None:
    broken = tmp_path / "stages.yaml"
    broken.write_text("processes:\n  - name: [x\n")
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{broken}:")
    assert "YAML syntax" in result.output
    result = runner.invoke(app, ["validate", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1
    assert "cannot read the file" in result.output


def test_diagram_prints_mermaid() -> None:
    result = runner.invoke(app, ["diagram", str(BUNDLED)])
    assert result.exit_code == 0
    assert result.output.startswith("---\ntitle: Lead to opportunity marketing sales process\n")
    assert "  automated_marketing_qualification --> sales_acceptance: Sales ready" in result.output
    result = runner.invoke(app, ["diagram", str(BUNDLED), "--process", "lead_to_oportunity"])
    assert result.exit_code == 1
    assert "did you mean 'lead_to_opportunity'?" in result.output


def test_keys_create_prints_a_working_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["keys", "create", "--role", "marketer", "--name", "web team"])
    assert result.exit_code == 0
    assert re.search(r"^lf_[\w-]{43}$", result.stdout, re.MULTILINE)
    result = runner.invoke(app, ["keys", "create", "--role", "boss"])
    assert result.exit_code == 1
    assert "unknown role 'boss'" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def serve_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "LEADFLOW_DATABASE_URL": database_url,
        "LEADFLOW_STAGES_FILE": str(BUNDLED),
    }


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def stop() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def _wait_ready(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=HTTP_SECONDS)
            if health.status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not answer")


def test_serve_prints_one_admin_key_on_the_first_start_only(
    serve_env: dict[str, str], stop: list[subprocess.Popen[str]]
) -> None:
    port = _free_port()
    first = _serve(serve_env, port)
    stop.append(first)
    _wait_ready(port, first)
    first.terminate()
    output = first.communicate(timeout=10)[0]
    keys = re.findall(r"lf_[\w-]{43}", output)
    assert len(keys) == 1
    assert "shown once" in output

    second = _serve(serve_env, port)
    stop.append(second)
    _wait_ready(port, second)
    headers = {"Authorization": f"Bearer {keys[0]}"}
    created = httpx.post(
        f"http://127.0.0.1:{port}/api/leads",
        json={"topic": "t"},
        headers=headers,
        timeout=HTTP_SECONDS,
    )
    assert created.status_code == 201
    second.terminate()
    assert re.findall(r"lf_[\w-]{43}", second.communicate(timeout=10)[0]) == []


def test_serve_refuses_an_invalid_stages_file(tmp_path: Path) -> None:
    broken = tmp_path / "stages.yaml"
    broken.write_text(
        BUNDLED.read_text()
        .replace("dest: inquiry", "")
        .replace("source: inquiry", "source: inquiri")
    )
    env = {
        **os.environ,
        "LEADFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "LEADFLOW_STAGES_FILE": str(broken),
    }
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{broken}:" in result.stderr
    assert "did you mean 'inquiry'?" in result.stderr


def test_the_readme_shows_the_bundled_process_as_leadflow_diagram_draws_it() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block == runner.invoke(app, ["diagram", str(BUNDLED)]).output


def test_evaluate_rescores_with_a_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'e.db'}")
    monkeypatch.setenv("LEADFLOW_STAGES_FILE", str(BUNDLED))
    from api.app import open_service
    from api.services import leads as lead_service
    from api.services.schemas.leads import LeadCreate
    from api.settings import Settings
    from bpf.actors import Actor
    from scoring.tables import ScoringModel

    service = open_service(Settings())
    with service.db.write() as session:
        session.add(
            ScoringModel(
                name="m",
                status="live",
                definition={
                    "rules": [
                        {
                            "type": "attribute",
                            "name": "all",
                            "when": {"field": "lead.topic", "op": "is_set"},
                            "points": 3,
                        }
                    ]
                },
            )
        )
    for _ in range(3):
        lead_service.create_lead(
            service.db, service.catalog, LeadCreate(topic="t"), Actor(bpf.ActorKind.USER, "t")
        )
    service.db.dispose()
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip()
        .splitlines()[-1]
        .endswith("3 records, 0 scores changed, outcomes fired for 0 leads")
    )
    result = runner.invoke(app, ["evaluate", "--model", "99"])
    assert result.exit_code == 1
    assert "scoring model 99 is not live" in result.output
