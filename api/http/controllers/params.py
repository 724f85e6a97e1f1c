"""Request parameters several controllers share."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, PathParameter, QueryParameter

from api.storage.paging import MAX_PAGE

# The largest id every JSON client reads exactly (and the OpenAPI document, which Litestar
# writes through a float, states exactly); ids are far from it.
MAX_ID = 2**53 - 1

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
