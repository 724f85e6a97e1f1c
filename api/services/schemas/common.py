"""Field types and shapes every part of the API shares."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
AttributeName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
]
AttributeValue = Annotated[str, StringConstraints(max_length=10_000)] | int | float | bool | None
Attributes = Annotated[dict[AttributeName, AttributeValue], Field(max_length=200)]
PositiveId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _email(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value.strip()):
        raise ValueError("not an email address")
    return value.strip().lower()


Email = Annotated[
    str,
    StringConstraints(max_length=320),
    AfterValidator(_email),
    Field(json_schema_extra={"format": "email"}),
]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _instant(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value  # made by the service itself
    if isinstance(value, str) and _RFC3339.match(value.upper()):
        try:
            return dt.datetime.fromisoformat(value.upper())
        except ValueError:
            pass
    raise PydanticCustomError(
        "date_time", "not a date-time with a timezone (RFC 3339), e.g. 2026-12-01T09:00:00Z"
    )


def _day(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DAY.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date", "not a date, e.g. 2026-12-01")


# Times and days as JSON Schema's date-time and date formats have them, and nothing else (not
# the epoch seconds pydantic also reads).
Instant = Annotated[
    dt.datetime, BeforeValidator(_instant), Field(json_schema_extra={"format": "date-time"})
]
Day = Annotated[dt.date, BeforeValidator(_day), Field(json_schema_extra={"format": "date"})]


class Input(BaseModel):
    """A request body: unknown fields are refused, never ignored."""

    model_config = ConfigDict(extra="forbid")


def read_only(where: str) -> Any:
    """A field a request body may not set: naming it is refused with `where` it changes (the
    schema marks it read-only). Absent, it is None and not among the fields set."""

    def refuse(value: object) -> None:
        raise PydanticCustomError("read_only", where)

    return Annotated[
        Any,
        BeforeValidator(refuse),
        Field(description=f"Read-only: {where}.", json_schema_extra={"readOnly": True}),
    ]


class _NotNull:
    """Leaves null out of the field's schema."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        found = handler(schema)
        members = [m for m in found.pop("anyOf", []) if m != {"type": "null"}]
        if len(members) == 1:
            return {**found, **members[0]}
        return {**found, "anyOf": members} if members else found


def _refuse_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("cannot_be_cleared", "cannot be cleared")
    return value


def kept(kind: Any) -> Any:
    """A field of a change request that may be left out, but not cleared with null."""
    return Annotated[kind | None, BeforeValidator(_refuse_null), _NotNull()]


def given(names: Iterable[str], *, absent: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON Schema branch: these fields are given (not null), those absent or null. Bodies
    whose fields depend on each other list their branches under `anyOf`."""
    named = list(names)
    return {
        "required": named,
        "properties": {
            **{name: {"not": {"type": "null"}} for name in named},
            **{name: {"type": "null"} for name in absent},
        },
    }


SET_BY_SERVICE = read_only("set by the service; it cannot be changed")
VERSION = read_only(
    "cannot be set; send the ETag you read as If-Match, the version rises with each change"
)


class ProblemBody(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Each invalid field and the reason."
    )
