"""Fixtures: a fresh database per test on SQLite, and on PostgreSQL when
LEADFLOW_TEST_DATABASE_URL names a server (a database of our own is created and dropped)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import bpf
from api.app import Service, create_app, open_service
from api.services import keys
from api.services.schemas.sellers import SellerCreate
from api.services.sellers import create_seller
from api.settings import Settings
from api.storage import migrate
from api.storage.db import Database
from bpf.actors import Actor, ActorKind
from tests.receiver import ALLOWED_TARGETS

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("LEADFLOW_TEST_DATABASE_URL") else [])
BUNDLED_STAGES = bpf.bundled_stages_file()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "leadflow.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.write_engine)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str]:
    server = make_url(os.environ["LEADFLOW_TEST_DATABASE_URL"])
    name = f"leadflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    migrate.upgrade(db.write_engine)
    db.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database that belongs to this test alone."""
    if request.param == "sqlite":
        path = tmp_path / "leadflow.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("_postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def stages_file() -> Path:
    return BUNDLED_STAGES


@pytest.fixture
def settings(database_url: str, stages_file: Path) -> Settings:
    # The jobs' clocks stay off in tests: an app runs only the runs asked for (evaluations).
    return Settings(
        database_url=database_url,
        stages_file=stages_file,
        periodic_jobs=False,
        webhook_allowed_targets=ALLOWED_TARGETS,
    )


@pytest.fixture
def service(settings: Settings) -> Iterator[Service]:
    service = open_service(settings)
    yield service
    service.db.dispose()


@pytest.fixture
def app_client(service: Service) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(service)) as client:
        yield client


KeyMaker = Callable[[keys.Role], dict[str, str]]


@pytest.fixture
def auth(service: Service) -> KeyMaker:
    """Authorization headers for a new key of the given role."""

    def make(role: keys.Role) -> dict[str, str]:
        with service.db.write() as session:
            _, secret = keys.create_key(session, role, f"{role.value} tester")
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def client(app_client: TestClient, auth: KeyMaker) -> TestClient:  # type: ignore[type-arg]
    """A client that calls as an admin unless a test says otherwise: it sees every lead, so
    tests of other rules need no owners; tests/api/test_object_access.py narrows it by role."""
    app_client.headers.update(auth(keys.Role.ADMIN))
    return app_client


def add_sellers(service: Service, *handles: str) -> None:
    """Active sellers with room for leads: a lead's owner is one."""
    actor = Actor(ActorKind.SYSTEM, "tests")
    for handle in handles:
        data = SellerCreate(handle=handle, name=handle.title())
        create_seller(service.db, service.catalog, data, actor)
