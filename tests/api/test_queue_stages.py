"""Which stages a work queue lists is stages.yaml's to say."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.services.keys import Role
from tests.api.test_assignment import lead
from tests.api.test_queues import SCORED, ids
from tests.api.test_scoring import live
from tests.conftest import BUNDLED_STAGES, KeyMaker

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def admin(app_client: Client, auth: KeyMaker) -> Client:
    app_client.headers.update(auth(Role.ADMIN))
    return app_client


@pytest.fixture
def stages_file(tmp_path: Path) -> Path:
    """The bundled process, with teleprospecting starting one stage earlier."""
    path = tmp_path / "stages.yaml"
    text = BUNDLED_STAGES.read_text().replace(
        "      - name: automated_marketing_qualification\n"
        "        label: Automated marketing qualification\n",
        "      - name: automated_marketing_qualification\n"
        "        label: Automated marketing qualification\n"
        "        queue: teleprospecting\n",
    )
    path.write_text(text)
    return path


def test_queue_stages_come_from_stages_yaml(admin: Client) -> None:
    model = live(admin, SCORED)
    scored = admin.post("/api/leads", json={"topic": "warm"}).json()
    assert lead(admin, scored["id"])["stage"] == "automated_marketing_qualification"
    assert model["status"] == "live"
    assert ids(admin, "/api/queues/teleprospecting") == [scored["id"]]
