"""Schemathesis over the whole OpenAPI document, for every role and without a key.

Every operation is called with generated requests (the schema's examples, its coverage cases
and random ones, valid and invalid) and every answer goes through all of schemathesis' checks:
no server error, only documented statuses, content types and headers, bodies that match their
schema, schema-valid requests accepted and schema-violating ones refused, authentication
enforced (probes without the key and with a wrong one), and, in the stateful run, links
followed from what a create returned. Each role has a database of its own for the module, on
SQLite and, when LEADFLOW_TEST_DATABASE_URL names a PostgreSQL server, on PostgreSQL too (a
database created for the role and dropped after), since both must answer alike: a value one
stores and the other refuses would be a 500 on one of them.

Schema-valid requests must be accepted, except where the answer depends on something no
schema can state: 412 for an If-Match that is not the record's current ETag, and the 422s
listed in BEYOND_SCHEMA (a reference to a record that does not exist, a cursor the service did
not issue, stages.yaml, the clock, rules relating one part of a body to another).

Sizes: by default a few examples per operation and role with a fixed seed, so a run is the same
every time and takes a few minutes on two cores. `LEADFLOW_FUZZ=deep` runs many more examples
(and `LEADFLOW_FUZZ_SEED=<n>` another seed) for a deep run by hand.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import bpf
from api.app import Service, create_app, open_service
from api.services import keys
from api.settings import Settings
from api.storage import migrate
from api.storage.db import Database
from tests.conftest import BACKENDS

DEEP = os.environ.get("LEADFLOW_FUZZ") == "deep"
SEED = int(os.environ.get("LEADFLOW_FUZZ_SEED", "20261201"))
EXAMPLES = 60 if DEEP else 4
STATEFUL_SCENARIOS = 100 if DEEP else 6
ANONYMOUS = "anonymous"
CALLERS = [ANONYMOUS, *(role.value for role in keys.Role)]


def _settings(directory: Path, database_url: str | None = None) -> Settings:
    return Settings(
        database_url=database_url or f"sqlite:///{directory / 'leadflow.db'}",
        stages_file=bpf.bundled_stages_file(),
        periodic_jobs=False,
        webhook_sender=False,
        rate_limit="off",
        anonymous_rate_limit="off",
    )


def _document() -> dict[str, Any]:
    """The OpenAPI document of an app that is built but never started or migrated."""
    with tempfile.TemporaryDirectory() as directory:
        settings = _settings(Path(directory))
        db = Database(settings.database_url)
        try:
            catalog = bpf.Catalog.from_file(settings.stages_path())
            return create_app(Service(settings, db, catalog, None)).openapi_schema.to_schema()
        finally:
            db.dispose()


DOCUMENT = _document()
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES, "database": "none"},
        "phases": {"stateful": {"max-steps": 8 if DEEP else 4}},
        "checks": {
            # Replaced by positive_data_accepted_unless_beyond_schema, below.
            "positive_data_acceptance": {
                "enabled": False,
                "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "429"],
            },
            # 428 Precondition Required (RFC 6585) is the answer to a missing If-Match.
            "missing_required_header": {
                "expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]
            },
        },
    }
)
# Schemathesis adds the links it infers to the document it is given.
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CONFIG)
BASE_URL = "http://testserver"  # checks that send a request again need one

# 422 reasons no JSON Schema can state: they depend on what is stored or configured, on the
# caller, or relate one part of a body to another.
BEYOND_SCHEMA = re.compile(
    "|".join(
        [
            # stored records
            r"^there is no ",  # a reference, by id or name, to a record that does not exist
            r"^not a cursor this API returned",  # opaque: only a next_cursor the service gave
            r"^already used with another body",  # an Idempotency-Key seen before
            r"^scoring model '.*' (is|scores|has no grade)",  # criteria read live lead models
            r"^(\S+ )?is in the future",  # an interaction's time or a closing day, by the clock
            # the network: where a webhook URL's host resolves, LEADFLOW_WEBHOOK_ALLOWED_TARGETS
            r"webhooks go to public addresses only",
            # stages.yaml, which an admin may reload
            r"^'.*' is not a (process|stage of process|trigger of process)",
            r"^'.*' is not a (lost reason|disqualify reason of process)",
            # the caller: the mass-assignment rule answers 422
            r"^only an admin sets a lead's owner",
            # a NUL inside free-form JSON (a lead-gen payload, a guard's one_of values): the
            # document's pattern refuses it in every string it types, but no JSON Schema short
            # of a recursive one reaches into values of any shape
            r"^(a key )?contains a NUL character$",
            # one part of a body against another
            r"^(rule|grade) names are unique",
            r"^grades? '",  # grades cover one range without gaps or overlap
            r"^an account model reads account fields only",
            r"^conditions nest at most",  # counted across a model's tests
            r"^'cap' has the sign of 'points'",
            r"^at most \d+ tests",  # criteria, counted across their groups
            r"^a model holds at most",  # conditions, counted across a model
            r"^the lists of values of a model's conditions hold at most",
            # one query parameter against another (GET /api/leads)
            r"^needs model",
            r"^must not be below score_min",
            r"^must be later than (created|updated)_after",
            # activities: an appointment's end against its start; a call outcome against the
            # stored activity's kind; the owner of a lead handed off
            r"^an appointment ends after it starts",
            r"^only a phone call has an outcome",
            r"^'.*' owns the lead already",
            r"^'.*' is not a seller of your team",
            r"^the seller '.*' is not active",
        ]
    )
)


@schemathesis.check
def positive_data_accepted_unless_beyond_schema(
    ctx: Any, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code == 422:
            reasons = [e["reason"] for e in response.json().get("errors", [])]
            if reasons and all(BEYOND_SCHEMA.search(r) for r in reasons):
                return None
        raise


class Caller:
    def __init__(self, app: Litestar, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str | None]:
    """None on SQLite (the app makes its own file); on PostgreSQL, the URL of a migrated
    database of its own, dropped after."""
    if backend == "sqlite":
        yield None
        return
    server = make_url(os.environ["LEADFLOW_TEST_DATABASE_URL"])
    name = f"leadflow_fuzz_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture(scope="module")
def caller(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    backend: str,
) -> Iterator[Caller]:
    """An app on a database of its own, and the headers of a key of this role (none: anonymous)."""
    with _database(backend) as url:
        directory = tmp_path_factory.mktemp(f"fuzz-{request.param}")
        service = open_service(_settings(directory, url))
        headers: dict[str, str] = {}
        if request.param != ANONYMOUS:
            with service.db.write() as session:
                _, secret = keys.create_key(session, keys.Role(request.param), "fuzz")
            headers = {"Authorization": f"Bearer {secret}"}
        app = create_app(service)
        try:
            yield Caller(app, headers)
        finally:
            asgi.shutdown_lifespans()
            service.db.dispose()


@pytest.mark.parametrize("caller", [keys.Role.ADMIN.value], indirect=True)
def test_the_fuzzed_document_is_the_served_one(caller: Caller) -> None:
    with TestClient(caller.app) as client:
        assert client.get("/schema/openapi.json").json() == DOCUMENT


@pytest.mark.parametrize("caller", CALLERS, indirect=True)
@schema.parametrize()
def test_operation(case: schemathesis.Case, caller: Caller) -> None:
    # The app sent to by the schema's transport, and so by the probes of checks such as
    # ignored_auth, which send requests of their own.
    case.operation.schema.app = case.operation.app = caller.app
    case.call_and_validate(base_url=BASE_URL, headers=caller.headers)


@pytest.mark.parametrize("caller", CALLERS, indirect=True)
def test_stateful(caller: Caller) -> None:
    schema.app = caller.app

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": BASE_URL, "app": caller.app, "headers": caller.headers}

    Machine.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=8 if DEEP else 4,
            derandomize=not DEEP,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
