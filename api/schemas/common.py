"""Field types and shapes every part of the API shares."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

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


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]


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
