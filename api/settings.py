"""Service settings, read from LEADFLOW_* environment variables."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import bpf
from api.services.webhook_targets import Targets
from bpf.durations import parse_duration
from leads.models import INTERACTION_KINDS


def _seconds(value: Any) -> Any:
    """A duration in seconds: a number, or text such as 30m, 12h or 1d."""
    if isinstance(value, str) and value.strip() and not value.strip().replace(".", "").isdigit():
        return parse_duration(value).total_seconds()
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]

RATE_LIMIT_OFF = "off"


def _rate_limit(value: str) -> str:
    """One rate limit in the notation of the limits library (1200/minute, 50 per 10 seconds),
    or off."""
    value = value.strip()
    if value.lower() == RATE_LIMIT_OFF:
        return RATE_LIMIT_OFF
    try:
        found = parse_many(value)
    except ValueError:
        found = []
    if len(found) != 1 or found[0].amount < 1:
        raise ValueError(
            f"'{value}' is not one rate limit: write N/second, N/minute, N/hour or N/day "
            "with N at least 1 (1200/minute, 50 per 10 seconds), or off"
        )
    return value


RateLimit = Annotated[str, AfterValidator(_rate_limit)]
RATE_LIMIT_STORAGES = ("memory", "redis", "rediss", "redis+unix")


def _rate_limit_storage(value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in RATE_LIMIT_STORAGES:
        raise ValueError(
            f"'{value}' is not a rate limit storage: memory:// or redis://host:port[/db] "
            "(also rediss://, redis+unix://)"
        )
    if scheme != "memory" and importlib.util.find_spec("redis") is None:
        raise ValueError(f"'{value}' needs the redis package: pip install 'leadflow[redis]'")
    return value


def _webhook_targets(value: str) -> str:
    Targets.parse(value)
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///leadflow.db",
        description="SQLAlchemy URL; postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    stages_file: Path | None = Field(
        default=None,
        description="The stages.yaml to use; default ./stages.yaml, else the bundled one.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    worker_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads that run request handlers' database work. Few is faster: writes "
        "queue at the database anyway, and fewer threads contend less for the interpreter.",
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a process trusts a key it has checked; a revocation made "
        "elsewhere takes effect here within this time. 0 checks every request.",
    )
    rate_limit: RateLimit = Field(
        default="3000/minute",
        description="Requests one API key may make, in any moving window of that length "
        "(per process with memory:// storage); off for no limit. 3000/minute lets a service "
        "key post batches of 1,000 interactions faster than the service stores them.",
    )
    anonymous_rate_limit: RateLimit = Field(
        default="60/minute",
        description="Requests without a valid API key (none, unknown, revoked) one client "
        "address may make; off for no limit. It bounds key guessing.",
    )
    rate_limit_storage: Annotated[str, AfterValidator(_rate_limit_storage)] = Field(
        default="memory://",
        description="Where the counts are kept: memory:// counts in each process; "
        "redis://host:port/db shares them between processes (pip install 'leadflow[redis]').",
    )
    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="Peers whose X-Forwarded-For and X-Forwarded-Proto are believed: "
        "comma-separated addresses or networks (10.0.0.0/8), * for any, empty for none. "
        "Anyone else's forwarded headers are ignored, so they cannot pose as another client.",
    )
    import_max_bytes: int = Field(
        default=104_857_600,
        ge=1024,
        description="The largest CSV body POST /api/imports takes (413 beyond); the command line "
        "import has no cap.",
    )
    interaction_kinds: str = Field(
        default="",
        description="Custom interaction kinds, comma-separated, besides the built-in ones.",
    )

    webhook_sender: bool = Field(
        default=True,
        description="Whether `leadflow serve` delivers webhooks itself; turn it off where "
        "`leadflow webhooks send` runs as a process of its own.",
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the sender looks for due deliveries."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long a receiver has to answer."
    )
    webhook_max_attempts: int = Field(
        default=10, ge=1, le=50, description="Attempts before a delivery is marked failed."
    )
    webhook_backoff_seconds: float = Field(
        default=30.0,
        gt=0,
        description="The wait after the first failed attempt; it doubles after each further "
        "one, with random jitter, up to webhook_backoff_max_seconds.",
    )
    webhook_backoff_max_seconds: float = Field(default=21_600.0, gt=0)
    webhook_retention_days: float = Field(
        default=30.0,
        gt=0,
        description="How long messages no longer pending stay in the delivery log.",
    )
    webhook_concurrency: int = Field(
        default=8, ge=1, le=64, description="Deliveries sent at once by one sender."
    )
    webhook_allowed_targets: Annotated[str, AfterValidator(_webhook_targets)] = Field(
        default="",
        description="Webhook targets allowed besides public addresses, for receivers inside "
        "the network: comma-separated host names and addresses or networks (10.0.0.0/8, "
        "fd00::/8). Any other URL whose host is or resolves to a loopback, link-local, "
        "private, unspecified, multicast or reserved address is refused.",
    )

    database_wait_seconds: Seconds = Field(
        default=30,
        gt=0,
        description="How long a request waits for the database (a connection, SQLite's write "
        "lock) before it gets 503 with Retry-After.",
    )
    database_connect_seconds: Seconds = Field(
        default=5,
        ge=2,
        description="PostgreSQL: how long opening a connection may take (libpq's "
        "connect_timeout; 2 is its least).",
    )
    database_statement_seconds: Seconds = Field(
        default=30,
        ge=0,
        description="PostgreSQL: how long a statement of a request or a job may run "
        "(statement_timeout) and how long the service waits for any answer from the database "
        "before it gives the connection up, so that a silent network gives 503 rather than a "
        "hang; 0 for no bound. A full evaluation's set-based statements are not bounded.",
    )
    scheduler: bool = Field(
        default=True,
        description="Run the jobs inside `leadflow serve`; off (--no-scheduler) when separate "
        "`leadflow scheduler` processes run them.",
    )
    periodic_jobs: bool = Field(
        default=True,
        description="Run the jobs on their intervals; off, a scheduler runs only the runs "
        "asked for (POST /api/jobs/{name}/run, /api/evaluations, a model going live).",
    )
    evaluation_interval: Seconds = Field(default=3600, gt=0)
    stage_timeout_interval: Seconds = Field(default=900, gt=0)
    idempotency_expiry_interval: Seconds = Field(default=3600, gt=0)
    webhook_redelivery_interval: Seconds = Field(default=60, gt=0)
    idempotency_keep: Seconds = Field(
        default=86400, gt=0, description="How long an Idempotency-Key and its answer are kept."
    )
    evaluation_chunk: int = Field(
        default=20_000, ge=1, description="Records written per transaction of an evaluation."
    )
    lease_seconds: Seconds = Field(
        default=30,
        gt=0,
        description="How long a job's lease lasts without a heartbeat: a run cut off is resumed "
        "by another scheduler after this time.",
    )
    heartbeat_seconds: Seconds = Field(default=10, gt=0)
    job_poll_seconds: Seconds = Field(
        default=5,
        gt=0,
        description="How often a scheduler looks for runs asked for and runs to resume.",
    )

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Settings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError(
                "LEADFLOW_HEARTBEAT_SECONDS must be at most half of LEADFLOW_LEASE_SECONDS"
            )
        return self

    def known_interaction_kinds(self) -> tuple[str, ...]:
        """The built-in interaction kinds, then the custom ones."""
        custom = (k.strip() for k in self.interaction_kinds.split(",") if k.strip())
        return (*INTERACTION_KINDS, *custom)

    def stages_path(self) -> Path:
        if self.stages_file is not None:
            return self.stages_file
        local = Path("stages.yaml")
        return local if local.is_file() else bpf.bundled_stages_file()
