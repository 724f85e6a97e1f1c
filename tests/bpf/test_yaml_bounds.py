"""YAML that would expand past any memory: aliases are refused, quickly and with a line, on
every path that reads stages.yaml, and a column mapping composes without expanding them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from litestar.testing import TestClient
from typer.testing import CliRunner

import bpf
from api.app import create_app, open_service
from api.cli import app
from api.services.keys import Role, create_key
from api.settings import Settings
from bpf.validation import StagesFileError, read
from leads.csvimport import MappingError, parse_mapping

BUNDLED = bpf.bundled_stages_file()
GUARD = "          - field: sales_ready\n            equals: true\n"


def _laughs(levels: int = 9) -> str:
    """A billion laughs: each anchor a list of ten aliases of the one before (10^9 strings)."""
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, levels + 1):
        items = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{items}]")
    return "\n".join(lines) + "\n"


def _bomb(tmp_path: Path) -> tuple[Path, int]:
    """The bundled stages.yaml with a guard whose one_of is a billion laughs; and the line of
    the first alias."""
    text = BUNDLED.read_text()
    assert GUARD in text and "&" not in text and "*" not in text.replace("**", "")
    levels = ['&l0 "lol"'] + [
        f"&l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, 10)
    ]
    guard = "          - field: sales_ready\n            one_of: [" + ", ".join(levels) + "]\n"
    path = tmp_path / "stages.yaml"
    path.write_text(text.replace(GUARD, guard, 1))
    line = text[: text.index(GUARD)].count("\n") + 2
    assert len(path.read_bytes()) < len(text) + 5000
    return path, line


def test_the_bundled_file_and_the_readme_use_no_aliases() -> None:
    readme = Path(__file__).parents[2] / "README.md"
    for text in (BUNDLED.read_text(), readme.read_text()):
        for line in text.splitlines():
            stripped = line.split("#", 1)[0]
            assert not any(
                word.startswith(("&", "*")) and word[1:2].isalpha() for word in stripped.split()
            ), line


def test_validate_refuses_an_alias_bomb_quickly_with_file_and_line(tmp_path: Path) -> None:
    path, line = _bomb(tmp_path)
    started = time.monotonic()
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert time.monotonic() - started < 2
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"{path}:{line}:"), result.output
    assert "alias" in result.output
    assert "Traceback" not in result.output


def test_reading_the_file_refuses_aliases_and_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "stages.yaml"
    path.write_text("processes: &p []\nother: *p\n")
    with pytest.raises(StagesFileError) as found:
        read(path)
    assert [(p.line, "alias" in p.message) for p in found.value.problems] == [(2, True)]
    path.write_text("processes: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(StagesFileError) as found:
        read(path)
    assert "nests too deeply" in found.value.problems[0].message


def test_reload_refuses_an_alias_bomb_and_the_service_answers(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "stages.yaml"
    path.write_text(BUNDLED.read_text())
    service = open_service(
        Settings(database_url=database_url, stages_file=path, periodic_jobs=False)
    )
    try:
        with TestClient(create_app(service)) as client:
            with service.db.write() as session:
                _, secret = create_key(session, Role.ADMIN, "admin")
            client.headers["Authorization"] = f"Bearer {secret}"
            bomb, line = _bomb(tmp_path)
            path.write_text(bomb.read_text())
            started = time.monotonic()
            reloaded = client.post("/api/processes/reload")
            assert time.monotonic() - started < 2
            assert reloaded.status_code == 422, reloaded.text
            problems = reloaded.json()["problems"]
            assert any(p.startswith(f"{path}:{line}:") and "alias" in p for p in problems)
            assert client.get("/api/leads").status_code == 200
            assert client.post("/api/leads", json={"topic": "t"}).status_code == 201
    finally:
        service.db.dispose()


def test_a_column_mapping_composes_aliases_without_expanding_them() -> None:
    started = time.monotonic()
    with pytest.raises(MappingError) as found:
        parse_mapping(_laughs(), "mapping.yaml")
    assert time.monotonic() - started < 1
    assert any(p.startswith("mapping.yaml:") for p in found.value.problems)
    with pytest.raises(MappingError) as found:
        parse_mapping("email: " + "[" * 5000 + "]" * 5000 + "\n", "mapping.yaml")
    assert found.value.problems[0].startswith("mapping.yaml:")
    with pytest.raises(MappingError) as found:
        parse_mapping('{"email": ' + "[" * 100_000 + "]" * 100_000 + "}", "mapping.json")
    assert found.value.problems[0].startswith("mapping.json:")
