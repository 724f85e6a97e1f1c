"""The API keys the service knows: a hash of each, never the key itself."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from leads.types import Id, UTCDateTime, utcnow


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_hash", "key_hash", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64)
    # The seller the key acts for: "mine" in the work queues means the leads they own.
    seller: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
