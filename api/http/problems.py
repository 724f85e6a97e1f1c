"""The one place where errors become HTTP answers: RFC 9457 problem details."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

import bpf
from api.storage.db import unavailable
from leads import errors as domain

log = logging.getLogger("leadflow")

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = 5  # seconds, in 503 answers while the database is away


class Problem(Exception):
    """An answer other than success, with what went wrong and, where it applies, which field."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:leadflow:problem:{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


STATUS: dict[type[domain.DomainError], int] = {
    domain.NotFound: 404,
    domain.InvalidInput: 422,
    domain.Taken: 409,
    domain.Conflict: 409,
    domain.VersionRequired: 428,
    domain.StaleVersion: 412,
}


def _from_error(exc: domain.DomainError) -> Problem:
    status = next(code for kind, code in STATUS.items() if isinstance(exc, kind))
    return Problem(status, exc.slug, exc.title, exc.detail, errors=exc.errors, **exc.extra)


_UNKNOWN_NAME_FIELD = {"trigger": "trigger", "stage": "to", "process": "process"}


def _from_domain(exc: Exception) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, domain.DomainError):
        return _from_error(exc)
    if isinstance(exc, bpf.UnknownName):
        reason = exc.message + (f"; {exc.hint}" if exc.hint else "")
        return _from_error(
            domain.InvalidInput.field(_UNKNOWN_NAME_FIELD.get(exc.kind, exc.kind), reason)
        )
    if isinstance(exc, bpf.MoveNotAllowed):
        return Problem(
            409, "move-not-allowed", "Move not allowed", exc.message, allowed=exc.allowed
        )
    if isinstance(exc, bpf.GuardRefused):
        return Problem(
            409,
            "move-refused",
            "Move refused",
            exc.message,
            reasons=exc.reasons,
            missing_steps=exc.missing_steps,
        )
    if isinstance(exc, bpf.StagesInUse):
        return Problem(
            409, "stages-in-use", "Stages still hold leads", exc.message, problems=exc.problems
        )
    if isinstance(exc, bpf.StagesFileError):
        return Problem(
            422,
            "invalid-stages-file",
            "Invalid stages.yaml",
            f"{len(exc.problems)} problem(s) in the stages file",
            problems=[str(p) for p in exc.problems],
        )
    if isinstance(exc, ValidationException):
        errors = [
            {
                "field": str(item.get("key") or "body"),
                "reason": str(item.get("message")).removeprefix("Value error, "),
            }
            for item in (exc.extra if isinstance(exc.extra, list) else [])
        ] or [{"field": "body", "reason": exc.detail}]
        return _from_error(domain.InvalidInput(errors))
    if isinstance(exc, HTTPException):
        status = exc.status_code
        detail = exc.detail
        if status == 400 and "JSON" in detail:
            return Problem(400, "malformed-body", "Malformed body", detail)
        headers = dict(exc.headers or {})
        return Problem(status, _slug(status), _title(status), detail, headers=headers)
    if unavailable(exc):
        log.warning("the database is unavailable: %s", exc)
        return Problem(
            503,
            "unavailable",
            "Service unavailable",
            "the database is unavailable or too busy to answer now; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER)},
        )
    log.exception("unhandled error", exc_info=exc)
    return Problem(
        HTTP_500_INTERNAL_SERVER_ERROR, "internal-error", "Internal error", "an unexpected error"
    )


def _slug(status: int) -> str:
    return _title(status).lower().replace(" ", "-")


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    problem = _from_domain(exc)
    return Response(
        content=problem.body(),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {Exception: handle}
MEDIA_TYPE = MediaType.JSON
