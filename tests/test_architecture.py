"""Imports point one way (docs/architecture.md): the contracts in pyproject.toml hold. And no
function grows so long that its parts go unnamed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("api", "bpf", "leads", "scoring", "bench")
NOT_WRITTEN_BY_HAND = (Path("api/storage/migrations/versions"),)
MAX_FUNCTION_LINES = 80


def test_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def long_functions(root: Path = ROOT) -> list[str]:
    """Each function or method of the production packages longer than MAX_FUNCTION_LINES, as
    path:line name (length)."""
    found: list[tuple[str, int, str, int]] = []
    for package in PRODUCTION:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if any(relative.is_relative_to(skipped) for skipped in NOT_WRITTEN_BY_HAND):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        found.append((relative.as_posix(), node.lineno, node.name, length))
    return [f"{path}:{line} {name} ({length})" for path, line, name, length in sorted(found)]


def test_no_function_is_longer_than_80_lines() -> None:
    found = long_functions()
    assert not found, (
        f"{len(found)} functions are longer than {MAX_FUNCTION_LINES} lines; split each into "
        "named parts:\n" + "\n".join(found)
    )
