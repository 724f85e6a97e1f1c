"""`leadflow privacy export`, run the way an admin runs it: the same document as the API."""

from __future__ import annotations

import json
from pathlib import Path

from litestar.testing import TestClient
from typer.testing import CliRunner

from api.app import Service
from api.cli import app

runner = CliRunner()


def test_export_writes_the_document_the_api_answers_and_is_audited(
    service: Service,
    client: TestClient,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    ana = client.post("/api/contacts", json={"email": "ana@example.com"}).json()
    lead = client.post("/api/leads", json={"topic": "t", "parent_contact_id": ana["id"]}).json()
    client.post(
        "/api/interactions",
        json={
            "interactions": [
                {"kind": "page_visit", "occurred_at": "2026-01-15T10:00:00+00:00", "contact_id": i}
                for i in (ana["id"], ana["id"])
            ]
        },
    )
    output = tmp_path / "ana.json"
    url = service.settings.database_url

    done = runner.invoke(
        app, ["privacy", "export", str(ana["id"]), "--database-url", url, "--output", str(output)]
    )

    assert done.exit_code == 0, done.output
    document = json.loads(output.read_text())
    assert [x["id"] for x in document["leads"]] == [lead["id"]]
    assert len(document["interactions"]) == 2
    assert document["exported_by"] == {"actor": "system", "name": "leadflow privacy export"}
    from_api = client.get(f"/api/contacts/{ana['id']}/export").json()
    for part in ("contact", "other_contacts", "leads", "interactions", "opportunities"):
        assert document[part] == from_api[part], part
    exports = [
        e
        for e in client.get(f"/api/contacts/{ana['id']}/audit").json()["items"]
        if e["field"] == "privacy_export"
    ]
    assert [(e["actor"], e["actor_name"]) for e in exports] == [
        ("user", "admin tester"),
        ("system", "leadflow privacy export"),
    ]
    printed = runner.invoke(app, ["privacy", "export", str(ana["id"]), "--database-url", url])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["contact"] == document["contact"]


def test_export_of_an_unknown_contact_fails_and_writes_nothing(
    service: Service, tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    output = exports / "nobody.json"
    url = service.settings.database_url
    failed = runner.invoke(
        app, ["privacy", "export", "999", "--database-url", url, "--output", str(output)]
    )
    assert failed.exit_code == 1
    assert "there is no contact 999" in failed.output
    assert list(exports.iterdir()) == []
