"""Running requests for a fixed time over a set of connections and tallying what came back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

# One request on a connection of its own: None when the answer is the expected one, else what
# went wrong.
Step = Callable[[], Awaitable[str | None]]

# How long past its end a phase may run before the server is taken to be stuck.
STALL_SECONDS = 30.0
ERROR_SAMPLES = 5

T = TypeVar("T")


@dataclass
class Tally:
    seconds: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies_ns)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_cpu_us(self) -> float | None:
        """Server CPU time per request, in microseconds."""
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds / self.requests * 1e6

    def percentile_ms(self, percent: float) -> float:
        """Nearest-rank percentile of the request latencies, in milliseconds."""
        if not self.latencies_ns:
            return 0.0
        ordered = sorted(self.latencies_ns)
        rank = max(round(percent / 100 * len(ordered)), 1)
        return ordered[rank - 1] / 1e6

    def summary(self) -> str:
        text = (
            f"{self.rate:8.0f} req/s  p50 {self.percentile_ms(50):6.2f} ms  "
            f"p95 {self.percentile_ms(95):6.2f} ms  "
            f"client cpu {self.client_cpu_seconds / self.seconds:4.0%}"
        )
        if self.server_cpu_seconds is not None and self.server_cpu_us is not None:
            text += (
                f"  server cpu {self.server_cpu_seconds / self.seconds:4.0%} "
                f"({self.server_cpu_us:.0f} us/req)"
            )
        if self.errors:
            text += f"  ERRORS {self.errors}"
        return text

    @classmethod
    def merged(cls, tallies: Sequence[Tally]) -> Tally:
        server_cpu = [t.server_cpu_seconds for t in tallies if t.server_cpu_seconds is not None]
        return cls(
            seconds=sum(t.seconds for t in tallies),
            latencies_ns=[x for t in tallies for x in t.latencies_ns],
            errors=sum(t.errors for t in tallies),
            error_samples=[s for t in tallies for s in t.error_samples][:ERROR_SAMPLES],
            client_cpu_seconds=sum(t.client_cpu_seconds for t in tallies),
            server_cpu_seconds=sum(server_cpu) if len(server_cpu) == len(tallies) else None,
        )


async def drive(
    steps: Sequence[Step], seconds: float, server_cpu: Callable[[], float | None]
) -> Tally:
    """Run every step over and over, all at once, until `seconds` have passed."""
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def repeat(step: Step) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter_ns()
            error = await step()
            tally.latencies_ns.append(time.perf_counter_ns() - started)
            if error is not None:
                tally.errors += 1
                if len(tally.error_samples) < ERROR_SAMPLES:
                    tally.error_samples.append(error)

    cpu_before = time.process_time()
    server_before = server_cpu()
    started = time.perf_counter()
    async with asyncio.timeout(seconds + STALL_SECONDS), asyncio.TaskGroup() as group:
        for step in steps:
            group.create_task(repeat(step))
    tally.seconds = time.perf_counter() - started
    tally.client_cpu_seconds = time.process_time() - cpu_before
    server_after = server_cpu()
    if server_before is not None and server_after is not None:
        tally.server_cpu_seconds = server_after - server_before
    return tally


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when it is installed (it comes with uvicorn[standard]):
    the client then spends about a quarter less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
