"""Service settings, read from LEADFLOW_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

import bpf
from leads.models import INTERACTION_KINDS


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

    def known_interaction_kinds(self) -> tuple[str, ...]:
        """The built-in interaction kinds, then the custom ones."""
        custom = (k.strip() for k in self.interaction_kinds.split(",") if k.strip())
        return (*INTERACTION_KINDS, *custom)

    def stages_path(self) -> Path:
        if self.stages_file is not None:
            return self.stages_file
        local = Path("stages.yaml")
        return local if local.is_file() else bpf.bundled_stages_file()
