"""Bearer API keys on every /api route, and guards that let roles through."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Message, Receive, Scope, Send

from api.http.rate_limits import Budget, RateLimits
from api.services.keys import Principal, Role, authenticate, digest
from api.storage.db import Database

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
    """Who calls, and whether their budget allows it, before any handler work; every answer
    that passed through here carries the RateLimit headers of the budget it was counted in."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_budget(message: Message) -> None:
            budget = scope.get("auth")
            if message["type"] == "http.response.start" and isinstance(budget, Budget):
                message["headers"] = [*message.get("headers", ()), *budget.raw_headers()]
            await send(message)

        await super().__call__(scope, receive, send_with_budget)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        services = connection.app.state.services
        limits: RateLimits = services.rate_limits
        # The peer, or the client a trusted proxy forwarded for (ProxyHeadersMiddleware).
        host = connection.client.host if connection.client else "unknown"
        header = connection.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        principal: Principal | None = None
        key = ""
        if scheme.lower() == "bearer" and secret:
            cache: KeyCache = services.key_cache
            key = digest(secret)
            principal = cache.get(key)
            if principal is None:
                # Once an address has spent its budget of bad keys, no key it sends is looked
                # up, so a right guess is refused like a wrong one.
                spent = await limits.address_spent(host)
                if spent is not None:
                    raise spent.refusal()
                db: Database = services.db

                def lookup() -> Principal | None:
                    with db.read() as session:
                        return authenticate(session, secret)

                principal = await anyio.to_thread.run_sync(lookup)
                if principal is not None:
                    cache.put(key, principal)
        if principal is None:
            budget = await limits.address(host)
            if budget is not None and not budget.allowed:
                raise budget.refusal()
            headers = {**UNAUTHORIZED_HEADERS, **(budget.headers() if budget else {})}
            if not key:
                raise NotAuthorizedException(
                    "send an API key as 'Authorization: Bearer <key>'", headers=headers
                )
            raise NotAuthorizedException("the API key is unknown or revoked", headers=headers)
        budget = await limits.key(key)
        if budget is not None and not budget.allowed:
            raise budget.refusal()
        admitted = connection.route_handler.opt.get("roles")
        refused = budget.headers() if budget else None
        if admitted is None:
            raise PermissionDeniedException("this route admits no role", headers=refused)
        if principal.role not in admitted:
            names = ", ".join(sorted(r.value for r in admitted))
            raise PermissionDeniedException(
                f"role '{principal.role.value}' may not do this; allowed: {names}",
                headers=refused,
            )
        return AuthenticationResult(user=principal, auth=budget)


def roles(*admitted: Role) -> dict[str, frozenset[Role]]:
    """Route options admitting these roles (admins always): checked once the key is known,
    so a refused request costs no more than that."""
    return {"roles": frozenset({Role.ADMIN, *admitted})}


EVERYONE = tuple(Role)
