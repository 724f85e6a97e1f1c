"""The answers given to requests that carried an Idempotency-Key, kept for replays."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from leads.types import Id, JSONValue, UTCDateTime, utcnow

KEY_MAX = 200


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (Index("ix_idempotency_record_created_at", "created_at"),)

    api_key_id: int = Field(sa_column=Column(Id, primary_key=True))
    key: str = Field(primary_key=True, max_length=KEY_MAX)
    route: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: Any = Field(default=None, sa_column=Column(JSONValue, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
