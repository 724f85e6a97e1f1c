"""Request parameters several controllers share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from litestar.params import HeaderParameter, PathParameter, QueryParameter
from pydantic import TypeAdapter, ValidationError

from api.services.schemas.common import Instant
from api.storage.paging import MAX_ID, MAX_PAGE
from api.storage.search import TEXT_PATTERN
from leads.errors import InvalidInput

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description="The ETag of the record as you last read it. Required; a stale one gets 412.",
    ),
]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE}.")]
Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=100,
        description="The next_cursor of the page before; any other value is refused (422).",
    ),
]
RecordId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
"""A record's id in a path: out of range is refused, as a record that cannot exist."""
QueryId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]
TextQuery = Annotated[
    str | None,
    QueryParameter(
        max_length=200,
        pattern=TEXT_PATTERN,
        description="Text to find, case-insensitive: `ana` finds fields containing it (3 "
        "characters at least), `ana*` fields starting with it (2 at least).",
    ),
]
Time = Annotated[str | None, QueryParameter(format="date-time", max_length=64)]
"""A time in a query (RFC 3339, with a time zone); read it with `instant`."""

_INSTANT: TypeAdapter[dt.datetime] = TypeAdapter(Instant)


def instant(name: str, value: str | None) -> dt.datetime | None:
    """Query parameters skip the body's validators: read the time as a body's is read."""
    try:
        return None if value is None else _INSTANT.validate_python(value)
    except ValidationError as exc:
        raise InvalidInput.field(name, exc.errors()[0]["msg"]) from None
