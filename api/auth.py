"""Bearer API keys on every /api route, and guards that let roles through."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.db import Database
from api.keys import Principal, Role, authenticate, digest

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="leadflow"'}


class KeyCache:
    """Keys recently found valid, so most requests need no database to say who calls.

    A key revoked elsewhere (another process, the command line) keeps working here for at most
    `seconds`; unknown keys are never cached.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.known: dict[str, tuple[Principal, float]] = {}

    def get(self, digest: str) -> Principal | None:
        found = self.known.get(digest)
        if found is None:
            return None
        principal, until = found
        if self.clock() >= until:
            del self.known[digest]
            return None
        return principal

    def put(self, digest: str, principal: Principal) -> None:
        if self.seconds <= 0:
            return
        if len(self.known) >= 10_000:
            self.known.clear()
        self.known[digest] = (principal, self.clock() + self.seconds)


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
        secret = secret.strip()
        cache: KeyCache = connection.app.state.services.key_cache
        key = digest(secret)
        principal = cache.get(key)
        if principal is None:
            db: Database = connection.app.state.services.db

            def lookup() -> Principal | None:
                with db.read() as session:
                    return authenticate(session, secret)

            principal = await anyio.to_thread.run_sync(lookup)
            if principal is not None:
                cache.put(key, principal)
        if principal is None:
            raise NotAuthorizedException(
                "the API key is unknown or revoked", headers=UNAUTHORIZED_HEADERS
            )
        admitted = connection.route_handler.opt.get("roles")
        if admitted is None:
            raise PermissionDeniedException("this route admits no role")
        if principal.role not in admitted:
            names = ", ".join(sorted(r.value for r in admitted))
            raise PermissionDeniedException(
                f"role '{principal.role.value}' may not do this; allowed: {names}"
            )
        return AuthenticationResult(user=principal, auth=None)


def roles(*admitted: Role) -> dict[str, frozenset[Role]]:
    """Route options admitting these roles (admins always): checked once the key is known,
    so a refused request costs no more than that."""
    return {"roles": frozenset({Role.ADMIN, *admitted})}


EVERYONE = tuple(Role)
