"""Audit log entries as the API returns them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from leads.audit import AuditEntry


class AuditEntryRead(BaseModel):
    id: int
    field: str = Field(description="A column, or `attributes.<name>` for a custom attribute.")
    old: Any = Field(description="The value before the change; null when there was none.")
    new: Any = Field(description="The value after the change; null when it was cleared.")
    redacted: bool = Field(description="The values were removed when the person was erased.")
    actor: str = Field(description="user, scoring, qualification, scheduler or system.")
    actor_name: str | None = Field(description="The name of the API key a person used.")
    actor_key_id: int | None = Field(description="The id of the API key a person used.")
    at: dt.datetime

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryRead:
        return cls.model_validate(entry, from_attributes=True)


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: str | None
