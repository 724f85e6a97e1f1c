"""Caps on input: each a quick 4xx that changes nothing, and none needs memory in proportion
to what a caller sends. docs/security.md lists them with their values.

Caps tested elsewhere, where their feature is:
- page size (limit above 200 -> 422): tests/api/test_leads.py, test_contacts.py,
  test_interactions.py, test_activities.py;
- interactions per batch (1 to 1,000): tests/api/test_interactions.py
  (test_a_batch_holds_one_to_a_thousand_interactions);
- CSV bytes (413, LEADFLOW_IMPORT_MAX_BYTES) and rows (422): tests/api/test_imports.py;
- qualification criteria depth and test count, and a JSON body nested deeper than the decoder
  takes (400): tests/api/test_qualification.py;
- Idempotency-Key length: tests/api/test_interactions.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.app import create_app, open_service
from api.services import keys
from api.services.keys import Role
from api.settings import Settings
from scoring.definition import MAX_CONDITIONS, MAX_DEPTH, MAX_GRADES, MAX_RULES, MAX_VALUES
from tests.api.test_scoring import live
from tests.conftest import KeyMaker

Client = TestClient[Any]
CHUNK = 64 * 1024


@pytest.fixture
def capped(settings: Settings) -> Iterator[tuple[Litestar, str]]:
    """An app taking JSON bodies of at most 1 KiB and CSV bodies of at most 2 KiB."""
    service = open_service(
        settings.model_copy(update={"max_body_bytes": 1024, "import_max_bytes": 2048})
    )
    with service.db.write() as session:
        _, secret = keys.create_key(session, Role.ADMIN, "caps")
    try:
        yield create_app(service), secret
    finally:
        service.db.dispose()


def post_in_chunks(app: Litestar, secret: str, path: str, media_type: str) -> tuple[int, int]:
    """POST a 16 MiB body without Content-Length, 64 KiB at a time, as a chunked upload
    arrives; return the status and how many chunks the app asked for."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": asked < 256}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"content-type", media_type.encode()),
            (b"authorization", f"Bearer {secret}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)  # type: ignore[arg-type]
    return sent[0]["status"], asked


@pytest.mark.parametrize(
    ("path", "media_type", "cap"),
    [("/api/leads", "application/json", 1024), ("/api/imports/contacts", "text/csv", 2048)],
)
def test_a_chunked_body_over_the_cap_is_413_once_the_cap_is_passed(
    capped: tuple[Litestar, str], path: str, media_type: str, cap: int
) -> None:
    app, secret = capped
    status, asked = post_in_chunks(app, secret, path, media_type)
    assert status == 413
    assert asked <= cap // CHUNK + 1


def test_a_body_announced_over_the_cap_is_413(capped: tuple[Litestar, str]) -> None:
    app, secret = capped
    with TestClient(app) as client:
        response = client.post(
            "/api/leads",
            json={"topic": "x" * 2000},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (
            client.get("/api/leads", headers={"Authorization": f"Bearer {secret}"}).json()["items"]
            == []
        )


def test_a_ten_megabyte_string_is_413(client: Client) -> None:
    response = client.post("/api/contacts", json={"email": "a@x.io", "first_name": "x" * 10**7})
    assert response.status_code == 413
    assert client.get("/api/contacts").json()["items"] == []


def fields(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def test_an_over_long_field_is_422_naming_it(client: Client) -> None:
    assert fields(client.post("/api/leads", json={"topic": "x" * 201})) == {
        "topic": "String should have at most 200 characters"
    }
    assert client.get("/api/leads").json()["items"] == []


def test_attributes_hold_at_most_200_keys_of_10_000_characters(client: Client) -> None:
    many = {f"a{i}": 1 for i in range(201)}
    assert "attributes" in fields(
        client.post("/api/leads", json={"topic": "t", "attributes": many})
    )
    long = {"a": "x" * 10_001}
    problems = fields(client.post("/api/leads", json={"topic": "t", "attributes": long}))
    assert all(field.startswith("attributes.a") for field in problems)
    nested = {"a": {"b": 1}}
    problems = fields(client.post("/api/leads", json={"topic": "t", "attributes": nested}))
    assert all(field.startswith("attributes.a") for field in problems)
    fits = {f"a{i}": "x" * 10_000 for i in range(50)}
    assert client.post("/api/leads", json={"topic": "t", "attributes": fits}).status_code == 201


CONDITION = {"field": "lead.topic", "op": "contains", "value": "webinar"}


def rule(name: str, when: dict[str, Any]) -> dict[str, Any]:
    return {"type": "attribute", "name": name, "when": when, "points": 10}


def refused(client: Client, definition: dict[str, Any]) -> str:
    response = client.post("/api/scoring-models", json={"name": "m", "definition": definition})
    return "; ".join(fields(response).values())


def test_a_scoring_model_is_capped_in_rules_conditions_values_grades_and_depth(
    auth: KeyMaker, app_client: Client
) -> None:
    app_client.headers.update(auth(Role.MARKETER))
    rules = [rule(f"r{i}", CONDITION) for i in range(MAX_RULES + 1)]
    assert "at most 40 items" in refused(app_client, {"rules": rules})
    wide = {"all": [CONDITION] * (MAX_CONDITIONS + 1)}
    assert "at most 100 conditions" in refused(app_client, {"rules": [rule("r", wide)]})
    values = {"field": "lead.topic", "op": "in", "value": ["v"] * (MAX_VALUES + 1)}
    assert "at most 200 values" in refused(app_client, {"rules": [rule("r", values)]})
    grades = [{"name": f"g{i}", "min": i, "max": i + 1} for i in range(MAX_GRADES + 1)]
    assert "at most 20 items" in refused(app_client, {"grades": grades})
    deep: dict[str, Any] = CONDITION
    for _ in range(MAX_DEPTH + 1):
        deep = {"all": [deep]}
    assert "nest at most 5 groups deep" in refused(app_client, {"audience": deep})
    assert app_client.get("/api/scoring-models").json() == []


def test_a_live_model_at_every_cap_still_scores_a_new_lead(
    auth: KeyMaker, app_client: Client
) -> None:
    """The caps sit below what the databases take in one statement (SQLite: expressions 1,000
    deep, 32,766 bound values): a model a marketer may save never stops leads being created."""
    app_client.headers.update(auth(Role.MARKETER))
    each = MAX_CONDITIONS // MAX_RULES
    listed = {"field": "lead.topic", "op": "in", "value": [f"v{i}" for i in range(MAX_VALUES)]}
    rules = [rule("values", {"any": [listed, CONDITION]})]
    rules += [rule(f"r{i}", {"all": [CONDITION] * each}) for i in range(1, MAX_RULES)]
    grades = [{"name": f"g{i}", "min": i * 10, "max": i * 10 + 10} for i in range(MAX_GRADES)]
    live(app_client, {"rules": rules, "grades": grades})
    made = app_client.post("/api/leads", json={"topic": "webinar"})
    assert made.status_code == 201, made.text
    scores = app_client.get(f"/api/leads/{made.json()['id']}/scores").json()
    assert scores[0]["score"] == 10 * MAX_RULES


def test_an_import_mapping_nested_too_deeply_is_422(auth: KeyMaker, app_client: Client) -> None:
    response = app_client.post(
        "/api/imports/contacts",
        params={"mapping": "[" * 9000 + "]" * 9000},
        content=b"email\na@x.io\n",
        headers={"Content-Type": "text/csv", **auth(Role.MARKETER)},
    )
    assert fields(response) == {"mapping": "nests too deeply"}
