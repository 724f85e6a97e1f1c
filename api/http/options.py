"""The answer to OPTIONS: which methods a path allows."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT


def allow(request: Request[Any, Any, Any]) -> Response[None] | None:
    """Answer OPTIONS with every method of the path. Litestar 2's own answer lists only those of
    the first handler registered on it (litestar-org/litestar#4169, fixed in Litestar 3)."""
    if request.method != "OPTIONS":
        return None
    template = request.scope.get("path_template")
    for route in request.app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            allowed = ", ".join(sorted(route.methods))
            return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allowed})
    return None
