"""The machine is built once per process when stages.yaml loads, never per lead."""

from __future__ import annotations

from typing import Any

import pytest
import transitions
from litestar.testing import TestClient

from api.app import Service


def test_moving_many_leads_builds_no_machine(
    client: TestClient,
    service: Service,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    built = []
    original = transitions.Machine.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(transitions.Machine, "__init__", counting)
    machine = service.catalog.default.machine
    for _ in range(30):
        lead = client.post("/api/leads", json={"topic": "t"}).json()
        for version in (1, 2):
            response = client.post(
                f"/api/leads/{lead['id']}/stage",
                json={"action": "next"},
                headers={"If-Match": f'"{version}"'},
            )
            assert response.status_code == 200
    assert built == []
    assert service.catalog.default.machine is machine
    assert machine.models == []
