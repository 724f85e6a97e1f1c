"""`leadflow keys create --seller`: a key that acts for a seller, so "mine" means their leads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.services.keys import authenticate
from api.storage.db import Database

runner = CliRunner()


def test_a_key_can_act_for_an_existing_seller_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    refused = runner.invoke(app, ["keys", "create", "--role", "salesperson", "--seller", "ana"])
    assert refused.exit_code == 1
    assert "there is no seller 'ana'" in refused.output
    db = Database(url)
    try:
        with db.write() as session:
            session.connection().exec_driver_sql(
                "INSERT INTO seller (handle, name, capacity, active, version, created_at, "
                "updated_at) VALUES ('ana', 'Ana', 5, 1, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        made = runner.invoke(app, ["keys", "create", "--role", "salesperson", "--seller", "ana"])
        assert made.exit_code == 0, made.output
        secret = made.stdout.strip().splitlines()[0]
        with db.read() as session:
            principal = authenticate(session, secret)
        assert principal is not None
        assert (principal.role.value, principal.seller) == ("salesperson", "ana")
    finally:
        db.dispose()
