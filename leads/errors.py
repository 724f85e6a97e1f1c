"""What can go wrong when a caller asks for something, in the words of the domain.

Services raise these; each caller turns them into its own answer in one place: the HTTP
shell into problem details (`api.http.problems`), the command line into a message and an
exit code (`api.cli`). `slug`, `title`, `detail`, `errors` and `extra` are what a person
or a program needs to act on; the kind of error (the class) says how serious it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

FieldErrors = list[dict[str, str]]  # [{"field": ..., "reason": ...}]


class DomainError(Exception):
    """A request that cannot be carried out; nothing was written."""

    slug: ClassVar[str] = "error"
    title: ClassVar[str] = "Error"

    def __init__(
        self,
        detail: str,
        *,
        errors: FieldErrors | None = None,
        slug: str | None = None,
        title: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        if slug is not None:
            self.slug = slug  # type: ignore[misc]
        if title is not None:
            self.title = title  # type: ignore[misc]
        self.extra = extra


class NotFound(DomainError):
    """There is no such record, or the caller may not know that there is."""

    slug = "not-found"
    title = "Not found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"there is no {kind} {ident}")


class InvalidInput(DomainError):
    """The request is well formed, but these fields are wrong, for these reasons."""

    slug = "invalid-input"
    title = "Invalid input"

    def __init__(self, errors: FieldErrors, **kwargs: Any) -> None:
        detail = kwargs.pop("detail", None) or "; ".join(
            f"{e['field']}: {e['reason']}" for e in errors
        )
        super().__init__(detail, errors=errors, **kwargs)

    @classmethod
    def field(cls, field: str, reason: str) -> InvalidInput:
        return cls([{"field": field, "reason": reason}])

    @classmethod
    def check_one_of(cls, field: str, value: str, allowed: Sequence[str], what: str) -> None:
        """Raise, naming the field and listing the allowed values, unless `value` is one of
        `allowed`; `what` names them ("a lost reason")."""
        if value not in allowed:
            reason = f"'{value}' is not {what}; one of: {', '.join(allowed)}"
            raise cls([{"field": field, "reason": reason}], allowed=list(allowed))


class Taken(DomainError):
    """The name or handle belongs to another record already."""

    slug = "taken"
    title = "Already taken"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


class Conflict(DomainError):
    """The record is not in a state that allows this (closed, stopped, exists already, ...)."""

    slug = "conflict"
    title = "Conflict"


class VersionRequired(DomainError):
    """A change must name the version it was made on."""

    slug = "precondition-required"
    title = "Precondition required"

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"send If-Match with the ETag of the {kind} you read, so no change is lost"
        )


class StaleVersion(DomainError):
    """The record changed since the caller read it; nothing was written."""

    slug = "stale-version"
    title = "Precondition failed"

    def __init__(self, kind: str, current_version: int) -> None:
        super().__init__(
            f"the {kind} changed since you read it: it is now at version {current_version}; "
            "read it again",
            current_version=current_version,
        )
