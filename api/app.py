"""The Litestar application and what it needs to start."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

import bpf
from api import keys, lead_service, migrate
from api.auth import KeyAuthentication
from api.controllers.capture import (
    EventController,
    FormController,
    LeadgenController,
    StrategyController,
)
from api.controllers.contacts import AccountController, ContactController
from api.controllers.health import VERSION, health, ready
from api.controllers.interactions import InteractionController
from api.controllers.leads import LeadController
from api.controllers.processes import ProcessController
from api.db import Database
from api.problems import EXCEPTION_HANDLERS
from api.settings import Settings


@dataclass
class Service:
    settings: Settings
    db: Database
    catalog: bpf.Catalog
    first_admin_key: str | None


class NotMigrated(RuntimeError):
    pass


def open_service(settings: Settings, *, migrate_embedded: bool = True) -> Service:
    """Open the database, bring an embedded one up to date, and adopt stages.yaml.

    Raise bpf.StagesFileError or bpf.StagesInUse when stages.yaml cannot be used, and
    NotMigrated when a shared database is behind (run `leadflow db upgrade`).
    """
    db = Database(settings.database_url)
    try:
        if db.is_sqlite and migrate_embedded:
            migrate.upgrade(db.write_engine)
        elif migrate.pending(db.engine):
            raise NotMigrated("the database schema is not up to date: run `leadflow db upgrade`")
        catalog = bpf.Catalog.from_file(settings.stages_path())
        lead_service.adopt(db, catalog)
        first_key = None
        with db.write() as session:
            if not keys.has_keys(session):
                _, first_key = keys.create_key(session, keys.Role.ADMIN, "first admin")
    except BaseException:
        db.dispose()
        raise
    return Service(settings, db, catalog, first_key)


def _db(state: State) -> Database:
    db: Database = state.db
    return db


def _catalog(state: State) -> bpf.Catalog:
    catalog: bpf.Catalog = state.catalog
    return catalog


def _settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def create_app(service: Service) -> Litestar:
    # transitions reports every state change at INFO; a service moving leads all day need not.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    state = State({"db": service.db, "catalog": service.catalog, "settings": service.settings})
    return Litestar(
        route_handlers=[
            health,
            ready,
            LeadController,
            ProcessController,
            ContactController,
            AccountController,
            InteractionController,
            StrategyController,
            FormController,
            EventController,
            LeadgenController,
        ],
        state=state,
        dependencies={
            "db": Provide(_db, sync_to_thread=False),
            "catalog": Provide(_catalog, sync_to_thread=False),
            "settings": Provide(_settings, sync_to_thread=False),
        },
        middleware=[
            DefineMiddleware(KeyAuthentication, exclude=["^/health$", "^/ready$", "^/schema"])
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=service.settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="leadflow",
            version=VERSION,
            path="/schema",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="http", scheme="bearer", description="An API key: lf_..."
                    )
                }
            ),
            security=[{"apiKey": []}],
        ),
        logging_config=None,
        debug=False,
    )
