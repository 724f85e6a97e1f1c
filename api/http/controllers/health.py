"""Liveness and readiness, outside /api and without a key."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec

from api import VERSION
from api.http.problems import RETRY_AFTER
from api.http.state import services
from api.services.keys import Principal
from api.storage.db import answers


@get("/health", sync_to_thread=False, operation_id="Health", tags=["service"])
def health() -> dict[str, str]:
    """The process is up. Touches nothing else."""
    return {"status": "ok", "version": VERSION}


@get(
    "/ready",
    sync_to_thread=True,
    operation_id="Ready",
    tags=["service"],
    responses={
        503: ResponseSpec(
            dict[str, str], description="The database does not answer.", generate_examples=False
        )
    },
)
def ready(
    request: Request[Principal, Any, State],
) -> Response[dict[str, str]]:
    """The database answers; 503 with Retry-After when it does not."""
    if not answers(services(request).db):
        return Response(
            {"status": "unavailable", "reason": "the database does not answer"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER)},
        )
    return Response({"status": "ok"})
