"""The Litestar application and what it needs to start."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler, LifespanHook
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import bpf
from api import VERSION
from api.http import openapi, options, query_params
from api.http.auth import KeyAuthentication, KeyCache
from api.http.bodies import JSONRequest, StrictBodies
from api.http.controllers.activities import ActivityController, lead_activities, log_call
from api.http.controllers.capture import (
    EventController,
    FormController,
    LeadgenController,
    StrategyController,
)
from api.http.controllers.contacts import AccountController, ContactController
from api.http.controllers.health import health, ready
from api.http.controllers.imports import ImportController
from api.http.controllers.interactions import InteractionController
from api.http.controllers.jobs import JobController
from api.http.controllers.leads import LeadController
from api.http.controllers.opportunities import DispositionController, OpportunityController
from api.http.controllers.owners import OwnerController
from api.http.controllers.privacy import PrivacyController
from api.http.controllers.processes import ProcessController
from api.http.controllers.qualification import QualificationController
from api.http.controllers.scoring import (
    ConfigurationController,
    EvaluationController,
    ScoringModelController,
    account_scores,
    lead_scores,
)
from api.http.controllers.sellers import (
    AssignmentRuleController,
    QueueController,
    SellerController,
    lead_assignments,
)
from api.http.controllers.webhooks import WebhookController
from api.http.problems import EXCEPTION_HANDLERS
from api.http.rate_limits import RateLimits
from api.http.state import Services
from api.jobs.runner import JobRunner
from api.jobs.scheduler import Scheduler
from api.jobs.webhook_sender import Sender
from api.services import keys
from api.services import leads as lead_service
from api.settings import Settings
from api.storage import migrate
from api.storage.db import Database
from api.storage.secrets import ERASURE_PEPPER, secret


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
    db = Database(
        settings.database_url,
        wait_seconds=settings.database_wait_seconds,
        connect_seconds=settings.database_connect_seconds,
        statement_seconds=settings.database_statement_seconds,
    )
    try:
        if db.is_sqlite and migrate_embedded:
            migrate.upgrade(db.write_engine)
        elif migrate.pending(db.engine):
            raise NotMigrated("the database schema is not up to date: run `leadflow db upgrade`")
        catalog = bpf.Catalog.from_file(settings.stages_path())
        lead_service.adopt(db, catalog)
        first_key = None
        with db.write() as session:
            # Made now, so concurrent first requests never race to make it.
            secret(session, ERASURE_PEPPER)
            if not keys.has_keys(session):
                _, first_key = keys.create_key(session, keys.Role.ADMIN, "first admin")
    except BaseException:
        db.dispose()
        raise
    return Service(settings, db, catalog, first_key)


def _before_request(request: Request[Any, Any, Any]) -> Response[None] | None:
    query_params.refuse_unknown(request)
    query_params.refuse_nul(request)
    return options.allow(request)


def create_app(service: Service) -> Litestar:
    # transitions reports every state change at INFO; a service moving leads all day need not.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    parts = _services(service)
    starting, stopping = _lifespan(service, parts)
    app = Litestar(
        on_startup=starting,
        on_shutdown=stopping,
        route_handlers=_route_handlers(),
        state=State({"services": parts}),
        middleware=_middleware(service.settings),
        before_request=_before_request,
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=service.settings.max_body_bytes,
        openapi_config=_openapi_config(),
        plugins=[StrictBodies()],
        request_class=JSONRequest,
        logging_config=None,
        debug=False,
    )
    openapi.complete(app, interaction_kinds=service.settings.known_interaction_kinds())
    query_params.index(app)
    return app


def _services(service: Service) -> Services:
    scheduler = Scheduler(
        JobRunner(service.db, lambda: parts.catalog, service.settings), service.settings
    )
    parts = Services(
        settings=service.settings,
        db=service.db,
        catalog=service.catalog,
        scheduler=scheduler,
        key_cache=KeyCache(service.settings.key_cache_seconds),
        rate_limits=RateLimits(service.settings),
    )
    return parts


def _lifespan(service: Service, parts: Services) -> tuple[list[LifespanHook], list[LifespanHook]]:
    """What starts with the app (the scheduler, the webhook sender) and what stops with it."""
    starting: list[LifespanHook] = [parts.scheduler.start] if service.settings.scheduler else []
    stopping: list[LifespanHook] = [parts.scheduler.stop, parts.rate_limits.close]
    if service.settings.webhook_sender:
        sender = Sender(service.db, service.settings)
        starting.append(sender.start)
        stopping.append(sender.stop)
    return starting, stopping


def _route_handlers() -> list[ControllerRouterHandler]:
    return [
        health,
        ready,
        LeadController,
        DispositionController,
        ActivityController,
        lead_activities,
        log_call,
        OpportunityController,
        ProcessController,
        ContactController,
        PrivacyController,
        AccountController,
        InteractionController,
        StrategyController,
        FormController,
        EventController,
        LeadgenController,
        ImportController,
        ScoringModelController,
        ConfigurationController,
        EvaluationController,
        QualificationController,
        JobController,
        lead_scores,
        account_scores,
        WebhookController,
        SellerController,
        AssignmentRuleController,
        QueueController,
        lead_assignments,
        OwnerController,
    ]


def _middleware(settings: Settings) -> list[DefineMiddleware]:
    return [
        # Here rather than in the server, so the address a budget is counted for is the
        # same under `leadflow serve` and the test client.
        DefineMiddleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies),
        DefineMiddleware(KeyAuthentication, exclude=["^/health$", "^/ready$", "^/schema"]),
    ]


def _openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
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
    )
