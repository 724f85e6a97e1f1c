"""`leadflow import`, run the way an admin runs it, and the streaming underneath it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

import bpf
from api.cli import app
from api.services import imports
from api.storage.db import Database
from bpf.actors import Actor
from leads.csvimport import Kind
from leads.models import INTERACTION_KINDS, Contact, Interaction

runner = CliRunner()
BUNDLED = bpf.bundled_stages_file()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("LEADFLOW_STAGES_FILE", str(BUNDLED))
    return database_url


def stored_contacts(url: str) -> dict[str | None, Contact]:
    db = Database(url)
    try:
        with db.read() as session:
            return {c.email: c for c in session.exec(select(Contact).order_by(col(Contact.id)))}
    finally:
        db.dispose()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


PEOPLE = (
    "E-mail,First name,Company,Lead source\n"
    "ana@example.com,Ana,Acme,webinar\n"
    "bob@example.com,Bob,Beta,expo\n"
    "ana@example.com,Ana María,,\n"
)
MAPPING = (
    "# CSV column: field\nE-mail: email\nFirst name: first_name\nLead source: attributes.source\n"
)


def test_import_writes_the_file_and_summarises_it(env: str, tmp_path: Path) -> None:
    people = write(tmp_path / "people.csv", PEOPLE)
    mapping = write(tmp_path / "mapping.yaml", MAPPING)
    result = runner.invoke(app, ["import", "contacts", str(people), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"imported contacts from {people}: 3 rows: 2 created, 1 updated, 0 unchanged, 0 bad; "
    )
    assert result.stdout.rstrip().endswith("rows/s")
    found = stored_contacts(env)
    assert sorted(e for e in found if e) == ["ana@example.com", "bob@example.com"]
    ana = found["ana@example.com"]
    assert (ana.first_name, ana.company, ana.attributes) == (
        "Ana María",
        "Acme",
        {"source": "webinar"},
    )


def test_bad_rows_are_listed_as_file_and_line_and_nothing_is_written(
    env: str, tmp_path: Path
) -> None:
    people = write(
        tmp_path / "people.csv",
        "email,account_id\nana@example.com,\nnot-an-email,\nbob@example.com,x\n",
    )
    result = runner.invoke(app, ["import", "contacts", str(people)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{people}:3: column 'email': not an email address",
        f"{people}:4: column 'account_id': must be a whole number",
    ]
    assert result.stdout.strip() == (
        f"nothing imported from {people}: 2 of 3 rows are bad; fix them, or use --skip-bad-rows "
        "to import the good rows"
    )
    assert stored_contacts(env) == {}

    result = runner.invoke(app, ["import", "contacts", str(people), "--skip-bad-rows"])
    assert result.exit_code == 0
    assert len(result.stderr.splitlines()) == 2
    assert "1 created, 0 updated, 0 unchanged, 2 bad (skipped)" in result.stdout
    assert list(stored_contacts(env)) == ["ana@example.com"]


def test_a_dry_run_reports_and_writes_nothing(env: str, tmp_path: Path) -> None:
    people = write(tmp_path / "people.csv", PEOPLE)
    mapping = write(tmp_path / "mapping.yaml", MAPPING)
    result = runner.invoke(
        app, ["import", "contacts", str(people), "--mapping", str(mapping), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"dry run of contacts from {people}, nothing written: 3 rows: 2 created, 1 updated"
    )
    assert stored_contacts(env) == {}


def test_standard_input_can_be_imported(env: str) -> None:
    result = runner.invoke(
        app,
        ["import", "interactions", "-"],
        input="kind,occurred_at,lead_id,external_id\npage_visit,2026-03-01T09:00:00Z,,x-1\n",
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "<stdin>:2: an interaction belongs to a contact (contact_id or email), a lead "
        "(lead_id), or both"
    ]


def test_a_missing_file_or_a_bad_mapping_is_named_without_a_traceback(
    env: str, tmp_path: Path
) -> None:
    people = write(tmp_path / "people.csv", PEOPLE)
    result = runner.invoke(app, ["import", "contacts", str(tmp_path / "absent.csv")])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"{tmp_path / 'absent.csv'}: cannot read the file: No such file or directory"
    )

    result = runner.invoke(
        app, ["import", "contacts", str(people), "--mapping", str(tmp_path / "absent.yaml")]
    )
    assert result.exit_code == 1
    assert "absent.yaml: cannot read the mapping: No such file or directory" in result.stderr

    broken = write(tmp_path / "broken.yaml", "E-mail: email\nFirst name: [first_name\n")
    result = runner.invoke(app, ["import", "contacts", str(people), "--mapping", str(broken)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{broken}:3: YAML syntax:")

    twice = write(tmp_path / "twice.yaml", "E-mail: email\nE-mail: first_name\n")
    result = runner.invoke(app, ["import", "contacts", str(people), "--mapping", str(twice)])
    assert result.stderr.strip() == f"{twice}:2: column 'E-mail' is mapped twice"

    wrong = write(tmp_path / "wrong.yaml", "E-mail: email\nFirst name: frist_name\n")
    result = runner.invoke(app, ["import", "contacts", str(people), "--mapping", str(wrong)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        f"{people}:1: column 'First name': {wrong}:2: 'frist_name' is not a contact field "
        "(did you mean 'first_name'?)"
    )
    assert lines[1] == (
        f"{people}:1: column 'Lead source': 'Lead source' is neither a contact field nor a valid "
        "attribute name; map it to a field, to attributes.<name>, or to null to skip it"
    )

    json_mapping = write(tmp_path / "mapping.json", '{"E-mail": "email",\n "x": }')
    result = runner.invoke(app, ["import", "contacts", str(people), "--mapping", str(json_mapping)])
    assert result.stderr.startswith(f"{json_mapping}:2: not JSON:")

    result = runner.invoke(app, ["import", "opportunities", str(people)])
    assert result.exit_code == 1
    assert "cannot import 'opportunities'; one of: contacts, accounts, leads, interactions" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_the_file_is_read_as_the_batches_are_written(env: str) -> None:
    """A file is never read ahead of the batch being imported: when the first batch is done,
    only its lines (and the reader's small look-ahead) have been taken from the stream."""
    size = 1000
    taken = 0
    seen_at_first_batch: list[int] = []

    def lines() -> Iterator[str]:
        nonlocal taken
        yield "kind,occurred_at,contact_id,external_id\n"
        for number in range(10 * size):
            taken += 1
            yield f"page_visit,2026-03-01T09:00:00Z,{number % 2 + 1},s-{number}\n"

    def progress(report: imports.Report) -> None:
        if not seen_at_first_batch:
            seen_at_first_batch.append(taken)

    db = Database(env)
    try:
        with db.write() as session:
            session.add_all([Contact(email="a@example.com"), Contact(email="b@example.com")])
        report = imports.import_csv(
            db,
            bpf.Catalog.from_file(BUNDLED),
            Kind.INTERACTIONS,
            lines(),
            options=imports.Options(batch_rows=size),
            actor=Actor(bpf.ActorKind.USER, "test"),
            interaction_kinds=INTERACTION_KINDS,
            progress=progress,
        )
        with db.read() as session:
            stored = len(session.exec(select(Interaction.id)).all())
    finally:
        db.dispose()
    assert seen_at_first_batch == [size]
    assert (report.rows, report.created, stored) == (10 * size, 10 * size, 10 * size)


def test_a_nul_in_a_cell_or_the_header_is_named_and_nothing_is_written(
    env: str, tmp_path: Path
) -> None:
    people = write(
        tmp_path / "people.csv",
        "email,first_name\nana@example.com,Ana\nbob@example.com,B\x00ob\n",
    )
    result = runner.invoke(app, ["import", "contacts", str(people), "--skip-bad-rows"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"{people}:3: column 'first_name': contains a NUL character"
    ]
    assert list(stored_contacts(env)) == ["ana@example.com"]

    header = write(tmp_path / "header.csv", "email,first\x00name\ncy@example.com,Cy\n")
    result = runner.invoke(app, ["import", "contacts", str(header)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"{header}:1: the header contains a NUL character"]
    assert list(stored_contacts(env)) == ["ana@example.com"]
