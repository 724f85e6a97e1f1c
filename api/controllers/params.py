"""Request parameters several controllers share."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, QueryParameter

from api.paging import MAX_PAGE

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description="The ETag of the record as you last read it. Required; a stale one gets 412.",
    ),
]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE}.")]
Cursor = Annotated[str | None, QueryParameter(max_length=100)]
