"""`leadflow keys list` and `leadflow keys revoke`, run the way an admin runs them."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select
from typer.testing import CliRunner

from api.app import Service, create_app
from api.cli import app
from api.services import keys

runner = CliRunner()


@pytest.fixture
def cli(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The command line on the test's database, which has its first admin key."""
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", service.settings.database_url)
    return service


def _create(role: str, *extra: str) -> str:
    made = runner.invoke(app, ["keys", "create", "--role", role, *extra])
    assert made.exit_code == 0, made.output
    return made.stdout.strip().splitlines()[0]


def _stored(service: Service) -> list[keys.ApiKey]:
    with service.db.read() as session:
        return list(session.exec(select(keys.ApiKey).order_by(col(keys.ApiKey.id))).all())


def test_list_shows_every_key_but_never_a_secret(cli: Service) -> None:
    secret = _create("marketer", "--name", "web team")
    _create("service", "--name", "ingest")
    assert runner.invoke(app, ["keys", "revoke", "3"]).exit_code == 0
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    table = [
        [cell.strip() for cell in line.strip("│┃").split(line[0])]
        for line in listed.stdout.splitlines()
        if line[:1] in ("│", "┃")
    ]
    assert table[0] == ["id", "name", "role", "seller", "prefix", "created", "revoked"]
    stored = _stored(cli)
    assert [row[:5] for row in table[1:]] == [
        ["1", "first admin", "admin", "", stored[0].prefix],
        ["2", "web team", "marketer", "", secret[:12]],
        ["3", "ingest", "service", "", stored[2].prefix],
    ]
    assert [row[5] for row in table[1:]] == [f"{k.created_at:%Y-%m-%d %H:%M:%S}" for k in stored]
    assert [row[6] for row in table[1:]] == ["", "", f"{stored[2].revoked_at:%Y-%m-%d %H:%M:%S}"]
    for key in stored:
        assert key.key_hash not in listed.stdout
    assert secret not in listed.stdout


def test_revoke_by_id_or_prefix_and_say_how_soon_it_takes_effect(cli: Service) -> None:
    first = _create("marketer")
    second = _create("marketer")
    by_id = runner.invoke(app, ["keys", "revoke", "2"])
    assert by_id.exit_code == 0, by_id.output
    assert by_id.stdout.startswith("revoked key 2 (marketer key, marketer)")
    assert "within 5 s (LEADFLOW_KEY_CACHE_SECONDS)" in by_id.stdout
    by_prefix = runner.invoke(app, ["keys", "revoke", second[:12]])
    assert by_prefix.exit_code == 0, by_prefix.output
    assert by_prefix.stdout.startswith("revoked key 3 ")
    with cli.db.read() as session:
        assert keys.authenticate(session, first) is None
        assert keys.authenticate(session, second) is None


@pytest.mark.parametrize(
    ("ident", "message"),
    [
        ("99", "there is no API key '99' (give an id or a prefix)"),
        ("lf_nosuchkey", "there is no API key 'lf_nosuchkey'"),
        ("2", "key 2 (marketer key) was already revoked, at 20"),
    ],
)
def test_revoke_refuses_unknown_and_revoked_keys(cli: Service, ident: str, message: str) -> None:
    _create("marketer")
    assert runner.invoke(app, ["keys", "revoke", "2"]).exit_code == 0
    before = [k.revoked_at for k in _stored(cli)]
    refused = runner.invoke(app, ["keys", "revoke", ident])
    assert refused.exit_code == 1
    assert message in refused.stderr
    assert [k.revoked_at for k in _stored(cli)] == before


def test_the_last_active_admin_key_is_revoked_only_with_force(cli: Service) -> None:
    _create("admin", "--name", "second admin")
    assert runner.invoke(app, ["keys", "revoke", "1"]).exit_code == 0
    refused = runner.invoke(app, ["keys", "revoke", "2"])
    assert refused.exit_code == 1
    assert "key 2 (second admin) is the last active admin key" in refused.stderr
    assert "--force" in refused.stderr
    assert _stored(cli)[1].revoked_at is None
    forced = runner.invoke(app, ["keys", "revoke", "2", "--force"])
    assert forced.exit_code == 0, forced.output
    assert _stored(cli)[1].revoked_at is not None


def test_a_running_service_honours_a_revocation_within_the_cache_time(cli: Service) -> None:
    secret = _create("marketer")
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(cli)) as client:
        cache = client.app.state.services.key_cache
        now = [1000.0]
        cache.clock = lambda: now[0]
        assert client.get("/api/leads", headers=headers).status_code == 200
        assert runner.invoke(app, ["keys", "revoke", "2"]).exit_code == 0
        now[0] += cli.settings.key_cache_seconds - 0.1
        assert client.get("/api/leads", headers=headers).status_code == 200
        now[0] += 0.2
        refused = client.get("/api/leads", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["detail"] == "the API key is unknown or revoked"
