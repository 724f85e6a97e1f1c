"""Bearer API keys on every /api route, and guards that let roles through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.db import Database
from api.keys import Principal, Role, authenticate

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="leadflow"'}


class KeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotAuthorizedException(
                "send an API key as 'Authorization: Bearer <key>'", headers=UNAUTHORIZED_HEADERS
            )
        db: Database = connection.app.state.db

        def lookup() -> Principal | None:
            with db.read() as session:
                return authenticate(session, secret.strip())

        principal = await anyio.to_thread.run_sync(lookup)
        if principal is None:
            raise NotAuthorizedException(
                "the API key is unknown or revoked", headers=UNAUTHORIZED_HEADERS
            )
        return AuthenticationResult(user=principal, auth=None)


def allow(*roles: Role) -> Guard:
    """A guard that admits the given roles; admins are always admitted."""
    admitted = {Role.ADMIN, *roles}

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal: Principal = connection.user
        if principal.role not in admitted:
            names = ", ".join(sorted(r.value for r in admitted))
            raise PermissionDeniedException(
                f"role '{principal.role.value}' may not do this; allowed: {names}"
            )

    return guard


EVERYONE = tuple(Role)
