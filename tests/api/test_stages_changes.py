"""A changed stages.yaml meets a database with leads in it: no stage may vanish silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

import bpf
from api.app import create_app, open_service
from api.services.keys import Role
from api.settings import Settings
from tests.conftest import KeyMaker

BUNDLED = bpf.bundled_stages_file().read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stages.yaml"
    path.write_text(text)
    return path


def seed(settings: Settings, stage_moves: dict[str, int]) -> None:
    """Create leads and switch them to the given stages: stage -> how many."""
    service = open_service(settings)
    try:
        with TestClient(create_app(service)) as client:
            with service.db.write() as session:
                from api.services.keys import create_key

                _, secret = create_key(session, Role.ADMIN, "seeder")
            client.headers["Authorization"] = f"Bearer {secret}"
            for stage, count in stage_moves.items():
                for _ in range(count):
                    lead = client.post("/api/leads", json={"topic": "t"}).json()
                    if stage != lead["stage"]:
                        response = client.post(
                            f"/api/leads/{lead['id']}/stage",
                            json={"to": stage, "reason": "seed"},
                            headers={"If-Match": '"1"'},
                        )
                        assert response.status_code == 200
    finally:
        service.db.dispose()


def test_start_up_refuses_a_file_that_drops_an_occupied_stage(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, stages_file=write(tmp_path, BUNDLED))
    seed(settings, {"teleprospecting_acceptance": 3, "inquiry": 1})
    dropped = (
        BUNDLED.replace("name: teleprospecting_acceptance", "name: phone_acceptance")
        .replace("dest: teleprospecting_acceptance", "dest: phone_acceptance")
        .replace("source: teleprospecting_acceptance", "source: phone_acceptance")
        .replace("          - teleprospecting_acceptance\n", "          - phone_acceptance\n")
    )
    write(tmp_path, dropped)
    with pytest.raises(bpf.StagesInUse) as caught:
        open_service(settings)
    (problem,) = caught.value.problems
    assert "stage 'teleprospecting_acceptance'" in problem
    assert "3 leads are in it" in problem
    assert "renamed: {teleprospecting_acceptance: <new stage>}" in problem

    renamed = dropped.replace(
        "    default: true\n",
        "    default: true\n    renamed:\n      teleprospecting_acceptance: phone_acceptance\n",
    )
    write(tmp_path, renamed)
    service = open_service(settings)
    try:
        with TestClient(create_app(service)) as client:
            with service.db.write() as session:
                from api.services.keys import create_key

                _, secret = create_key(session, Role.ADMIN, "checker")
            client.headers["Authorization"] = f"Bearer {secret}"
            moved = client.get("/api/leads?stage=phone_acceptance").json()["items"]
            assert len(moved) == 3
            assert all(lead["version"] == 3 for lead in moved)
            history = client.get(f"/api/leads/{moved[0]['id']}/history").json()["items"]
            assert (history[-1]["from_stage"], history[-1]["to_stage"], history[-1]["actor"]) == (
                "teleprospecting_acceptance",
                "phone_acceptance",
                "system",
            )
            assert client.get("/api/leads?stage=inquiry").json()["items"] != []
    finally:
        service.db.dispose()


def test_a_dropped_process_with_leads_is_refused_unless_renamed(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, stages_file=write(tmp_path, BUNDLED))
    seed(settings, {"inquiry": 2})
    write(tmp_path, BUNDLED.replace("name: lead_to_opportunity", "name: marketing_sales"))
    with pytest.raises(bpf.StagesInUse) as caught:
        open_service(settings)
    assert "process 'lead_to_opportunity'" in caught.value.problems[0]
    write(
        tmp_path,
        BUNDLED.replace("name: lead_to_opportunity", "name: marketing_sales")
        + "renamed_processes:\n  lead_to_opportunity: marketing_sales\n",
    )
    service = open_service(settings)
    service.db.dispose()


def test_reload_is_for_admins_and_refuses_bad_files_changing_nothing(
    service_with_file: tuple[TestClient, Path],
    auth: KeyMaker,  # type: ignore[type-arg]
) -> None:
    client, path = service_with_file
    client.headers.update(auth(Role.MARKETER))
    assert client.post("/api/processes/reload").status_code == 403
    client.headers.update(auth(Role.ADMIN))
    lead = client.post("/api/leads", json={"topic": "t"}).json()

    path.write_text(BUNDLED.replace("dest: sales_acceptance", "dest: sales_acceptence"))
    response = client.post("/api/processes/reload")
    assert response.status_code == 422
    assert any("did you mean 'sales_acceptance'" in p for p in response.json()["problems"])

    path.write_text(
        BUNDLED.replace("name: inquiry", "name: enquiry")
        .replace("source: inquiry", "source: enquiry")
        .replace("[inquiry,", "[enquiry,")
        .replace("          - inquiry\n", "          - enquiry\n")
    )
    response = client.post("/api/processes/reload")
    assert response.status_code == 409
    assert "stage 'inquiry'" in response.json()["detail"]
    assert client.get(f"/api/leads/{lead['id']}").json()["stage"] == "inquiry"
    assert (
        client.get("/api/processes/lead_to_opportunity").json()["definition"]["stages"][0]["name"]
        == "inquiry"
    )

    path.write_text(
        path.read_text().replace(
            "    default: true\n", "    default: true\n    renamed: {inquiry: enquiry}\n"
        )
    )
    response = client.post("/api/processes/reload")
    assert response.status_code == 200, response.text
    assert response.json()["relocated"][0]["leads"] == 1
    assert client.get(f"/api/leads/{lead['id']}").json()["stage"] == "enquiry"


@pytest.fixture
def service_with_file(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = write(tmp_path, BUNDLED)
    service = open_service(
        Settings(database_url=database_url, stages_file=path, periodic_jobs=False)
    )
    with TestClient(create_app(service)) as client:
        yield client, path
    service.db.dispose()


def test_processes_are_listed_and_drawn(client: TestClient) -> None:  # type: ignore[type-arg]
    processes = client.get("/api/processes").json()
    assert [(p["name"], p["default"]) for p in processes] == [("lead_to_opportunity", True)]
    diagram = client.get("/api/processes/lead_to_opportunity/diagram")
    assert diagram.status_code == 200
    assert "stateDiagram-v2" in diagram.text
    assert "inquiry --> sales_acceptance: Sales ready" in diagram.text
    assert client.get("/api/processes/nope").status_code == 404
