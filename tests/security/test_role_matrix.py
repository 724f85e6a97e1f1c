"""Every operation of the OpenAPI schema, called as every role, answers as docs/security.md
says: anonymous 401 (public routes not), a role denied 403, a role allowed neither.

The table is the contract: an operation the schema has and the table lacks fails, naming it,
and so does a row for an operation the schema no longer has. SQLite only: one app and one
set of keys serve every request, which is what keeps 600-odd requests fast.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app, open_service
from api.services import keys
from api.settings import Settings
from tests.conftest import BUNDLED_STAGES

SECURITY_DOC = Path(__file__).parents[2] / "docs" / "security.md"
ROLES = ("anonymous", *(r.value for r in keys.Role))
METHODS = ("get", "put", "post", "patch", "delete")
ROW = re.compile(r"^\|\s*`(?P<method>[A-Z]+) (?P<path>/\S*)`\s*\|(?P<cells>.*)\|\s*$")
HEADER = re.compile(r"^\|\s*operation\s*\|")

Matrix = dict[tuple[str, str], dict[str, bool]]


def parse_matrix(text: str) -> Matrix:
    """The rows of every role table: (METHOD, path) -> role -> allowed."""
    matrix: Matrix = {}
    columns: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if HEADER.match(line):
            columns = [c.strip() for c in line.strip().strip("|").split("|")][1:]
            assert sorted(columns) == sorted(ROLES), f"line {number}: columns {columns}"
            continue
        row = ROW.match(line)
        if row is None:
            continue
        cells = [c.strip() for c in row["cells"].split("|")]
        assert len(cells) == len(columns), f"line {number}: {len(cells)} cells"
        assert set(cells) <= {"allow", "deny"}, f"line {number}: cells are allow or deny"
        operation = (row["method"], row["path"])
        assert operation not in matrix, f"line {number}: {operation} is listed twice"
        matrix[operation] = {
            role: cell == "allow" for role, cell in zip(columns, cells, strict=True)
        }
    return matrix


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return parse_matrix(SECURITY_DOC.read_text())


@pytest.fixture(scope="module")
def caller(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[tuple[TestClient[Any], dict[str, dict[str, str]]]]:
    path = tmp_path_factory.mktemp("matrix") / "leadflow.db"
    shutil.copyfile(_sqlite_template, path)
    settings = Settings(
        database_url=f"sqlite:///{path}",
        stages_file=BUNDLED_STAGES,
        periodic_jobs=False,
        scheduler=False,
        webhook_sender=False,
        rate_limit="off",
        anonymous_rate_limit="off",
    )
    service = open_service(settings)
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with service.db.write() as session:
        for role in keys.Role:
            _, secret = keys.create_key(session, role, f"{role.value} matrix")
            headers[role.value] = {"Authorization": f"Bearer {secret}"}
    try:
        with TestClient(create_app(service)) as client:
            lead = client.post("/api/leads", json={"topic": "matrix"}, headers=headers["admin"])
            assert lead.status_code == 201, lead.text
            yield client, headers
    finally:
        service.db.dispose()


def schema_operations(client: TestClient[Any]) -> set[tuple[str, str]]:
    schema = client.get("/schema/openapi.json").json()
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_table_lists_exactly_the_operations_of_the_schema(
    matrix: Matrix, caller: tuple[TestClient[Any], dict[str, dict[str, str]]]
) -> None:
    client, _ = caller
    served = schema_operations(client)
    missing = sorted(f"{m} {p}" for m, p in served - matrix.keys())
    removed = sorted(f"{m} {p}" for m, p in matrix.keys() - served)
    assert not missing, f"operations without a row in docs/security.md: {missing}"
    assert not removed, f"rows in docs/security.md for operations that do not exist: {removed}"


def concrete(path: str) -> str:
    """The path with every parameter filled: 1 names the lead made above, and ids that do not
    exist still show that the key was let through (404, not 401 or 403)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_operation_answers_every_role_as_the_table_says(
    matrix: Matrix, caller: tuple[TestClient[Any], dict[str, dict[str, str]]]
) -> None:
    client, headers = caller
    wrong = []
    for (method, path), allowed in sorted(matrix.items()):
        public = allowed["anonymous"]
        for role in ROLES:
            response = client.request(method, concrete(path), json={}, headers=headers[role])
            status = response.status_code
            if role == "anonymous" and not public:
                right = status == 401
            elif allowed[role]:
                right = status not in (401, 403)
            else:
                right = status == 403
            if not right or status >= 500:
                wrong.append(f"{method} {path} as {role}: {status} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_a_role_denied_learns_which_roles_may(
    caller: tuple[TestClient[Any], dict[str, dict[str, str]]],
) -> None:
    client, headers = caller
    refused = client.post("/api/webhooks", json={}, headers=headers["salesperson"])
    assert refused.status_code == 403
    assert "allowed: admin" in refused.json()["detail"]
    anonymous = client.get("/api/leads")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
