"""Schemathesis over the whole OpenAPI document, for every role and without a key.

Every operation is called with generated requests (the schema's examples, its coverage cases
and random ones, valid and invalid) and every answer goes through all of schemathesis' checks:
no server error, only documented statuses, content types and headers, bodies that match their
schema, and, in the stateful run, links followed from what a create returned. Each role has a
database of its own for the module.

Three checks are off for now, each for a known reason: `positive_data_acceptance` (the document
does not yet state every rule the server enforces, such as email formats, cursors it issued,
"exactly one of" bodies and ordered date ranges, so schema-valid requests still get 422),
`negative_data_rejection` (a few fields, e.g. an account's `revenue`, are coerced rather than
refused), and `ignored_auth` (its probe is sent over `requests`, not the ASGI app, with
schemathesis 4.32). The role matrix test covers what `ignored_auth` would.

The fuzz runs on SQLite only, also when LEADFLOW_TEST_DATABASE_URL names a PostgreSQL server:
what it checks is the HTTP contract, which both databases answer alike (the storage tests run
on both).

Sizes: by default a few examples per operation and role with a fixed seed, so a run is the same
every time and takes a few minutes on two cores. `LEADFLOW_FUZZ=deep` runs many more examples
(and `LEADFLOW_FUZZ_SEED=<n>` another seed) for a deep run by hand.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis.python import asgi

import bpf
from api import keys
from api.app import Service, create_app, open_service
from api.db import Database
from api.settings import Settings

DEEP = os.environ.get("LEADFLOW_FUZZ") == "deep"
SEED = int(os.environ.get("LEADFLOW_FUZZ_SEED", "20261201"))
EXAMPLES = 60 if DEEP else 4
STATEFUL_SCENARIOS = 100 if DEEP else 6
ANONYMOUS = "anonymous"
CALLERS = [ANONYMOUS, *(role.value for role in keys.Role)]


def _settings(directory: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{directory / 'leadflow.db'}",
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
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"enabled": False},
            "ignored_auth": {"enabled": False},
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


class Caller:
    def __init__(self, app: Litestar, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers


@pytest.fixture(scope="module")
def caller(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Caller]:
    """An app on a database of its own, and the headers of a key of this role (none: anonymous)."""
    service = open_service(_settings(tmp_path_factory.mktemp(f"fuzz-{request.param}")))
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
    case.call_and_validate(base_url=BASE_URL, app=caller.app, headers=caller.headers)


@pytest.mark.parametrize("caller", CALLERS, indirect=True)
def test_stateful(caller: Caller) -> None:
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
