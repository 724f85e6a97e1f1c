"""Request budgets: one per API key, and a smaller one per client address for requests
without a valid key."""

from __future__ import annotations

import inspect
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.http.problems import Problem
from api.settings import RATE_LIMIT_OFF, Settings

log = logging.getLogger("leadflow")


@dataclass(frozen=True)
class Budget:
    """Where one caller stands against its limit, as the RateLimit headers say it."""

    limit: int
    window: int  # seconds
    remaining: int
    reset: int  # seconds until the oldest request in the window leaves it
    allowed: bool
    whose: str

    def headers(self) -> dict[str, str]:
        found = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }
        if not self.allowed:
            found["Retry-After"] = str(self.reset)
        return found

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [(k.lower().encode(), v.encode()) for k, v in self.headers().items()]

    def refusal(self) -> Problem:
        return Problem(
            429,
            "too-many-requests",
            "Too many requests",
            f"{self.whose} may make {self.limit} requests in {self.window} s; "
            f"retry in {self.reset} s",
            headers=self.headers(),
        )


class RateLimits:
    # A moving window counts every request of the last `window` seconds, so no stretch of that
    # length ever holds more than the limit; a fixed window lets a burst at its end and another
    # at the start of the next pass twice the limit within a few seconds.
    def __init__(self, settings: Settings) -> None:
        self.per_key = _item(settings.rate_limit)
        self.anonymous = _item(settings.anonymous_rate_limit)
        self.limiter: MovingWindowRateLimiter | AsyncMovingWindowRateLimiter | None = None
        self.pool: Any = None  # redis' connections, closed with the service
        uri = settings.rate_limit_storage
        if self.per_key is not None or self.anonymous is not None:
            self.limiter = self._memory() if uri.startswith("memory:") else self._redis(uri)
        self.failing = False

    def _memory(self) -> MovingWindowRateLimiter:
        # Called on the event loop: a few microseconds, no I/O. (The asyncio memory storage
        # hands its expiry sweep to a thread after every request.)
        return MovingWindowRateLimiter(MemoryStorage())

    def _redis(self, uri: str) -> AsyncMovingWindowRateLimiter:
        import redis.asyncio

        self.pool = redis.asyncio.ConnectionPool.from_url(uri)
        storage = storage_from_string(
            f"async+{uri}",
            implementation="redispy",  # the redis package, not coredis
            connection_pool=self.pool,
            wrap_exceptions=True,
        )
        assert isinstance(storage, Storage)
        return AsyncMovingWindowRateLimiter(storage)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()

    async def key(self, digest: str) -> Budget | None:
        """Count a request with a valid key, known by the digest of its secret."""
        return await self._hit(self.per_key, "key", digest, "this API key")

    async def address(self, host: str) -> Budget | None:
        """Count a request without a valid key from this client address."""
        return await self._hit(self.anonymous, "address", host, _whose_address(host))

    async def address_spent(self, host: str) -> Budget | None:
        """The address's budget when it has none left, without counting a request."""
        if self.limiter is None or self.anonymous is None:
            return None
        try:
            if await self._ask("test", self.anonymous, "address", host):
                return None
            return await self._budget(self.anonymous, False, _whose_address(host), "address", host)
        except StorageError as exc:
            self._failed(exc)
            return None

    async def _hit(
        self, item: RateLimitItem | None, kind: str, ident: str, whose: str
    ) -> Budget | None:
        if self.limiter is None or item is None:
            return None
        try:
            allowed = await self._ask("hit", item, kind, ident)
            budget = await self._budget(item, allowed, whose, kind, ident)
        except StorageError as exc:
            self._failed(exc)
            return None
        if self.failing:
            self.failing = False
            log.warning("the rate limit storage answers again")
        return budget

    async def _budget(
        self, item: RateLimitItem, allowed: bool, whose: str, *identity: str
    ) -> Budget:
        stats = await self._ask("get_window_stats", item, *identity)
        return Budget(
            limit=item.amount,
            window=item.get_expiry(),
            remaining=max(stats.remaining, 0),
            reset=max(math.ceil(stats.reset_time - time.time()), 1 if not allowed else 0),
            allowed=allowed,
            whose=whose,
        )

    async def _ask(self, method: str, *args: Any) -> Any:
        answer = getattr(self.limiter, method)(*args)
        return await answer if inspect.isawaitable(answer) else answer

    def _failed(self, exc: StorageError) -> None:
        # The limits guard against overuse, not against intruders (keys are 256 random bits):
        # while their storage is away the service answers without them rather than not at all.
        if not self.failing:
            self.failing = True
            log.warning("the rate limit storage is unavailable, requests go unlimited: %s", exc)


def _whose_address(host: str) -> str:
    return f"requests without a valid API key from {host}"


def _item(value: str) -> RateLimitItem | None:
    return None if value == RATE_LIMIT_OFF else parse(value)
