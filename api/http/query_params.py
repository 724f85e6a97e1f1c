"""Query parameters an operation does not have are refused, naming each, rather than ignored: a
misspelt filter (`?ownr=ana`) would otherwise list everything. A query or path parameter that
holds a NUL character is refused too, naming it, before any handler reads it."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.routes import HTTPRoute

from leads.errors import InvalidInput
from leads.text import HAS_NUL, NUL

_KNOWN = "query_parameters"


def index(app: Litestar) -> None:
    """Note on each route handler the query parameters it reads."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler, kwargs_model in route.route_handler_map.values():
                names = {p.field_alias for p in kwargs_model.expected_query_params}
                handler.opt[_KNOWN] = frozenset(names)


def refuse_unknown(request: Request[Any, Any, Any]) -> None:
    known: frozenset[str] | None = request.route_handler.opt.get(_KNOWN)
    if known is None:
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        hint = f"its parameters: {', '.join(sorted(known))}" if known else "it takes none"
        reason = f"not a query parameter of this operation; {hint}"
        raise InvalidInput([{"field": name, "reason": reason} for name in unknown])


def refuse_nul(request: Request[Any, Any, Any]) -> None:
    named = [
        *request.query_params.multi_items(),
        *((name, value) for name, value in request.path_params.items() if isinstance(value, str)),
    ]
    holding = sorted({name for name, value in named if NUL in value})
    if holding:
        raise InvalidInput([{"field": name, "reason": HAS_NUL} for name in holding])
