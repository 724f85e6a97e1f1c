"""Webhook subscriptions and their delivery log over HTTP."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from api.services import signing
from api.services.outbox import EventType
from api.services.schemas.common import Input, kept
from api.storage.webhook_tables import WebhookAttempt, WebhookDelivery, WebhookSubscription
from bpf.validation import suggest


def _url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("names no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials; the signature authenticates each message")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain spaces")
    if URL.fullmatch(value) is None:
        raise ValueError(
            "must be http:// or https://, a host name of letters, digits and hyphens between "
            "dots, an optional port, then a path and query of printable ASCII (percent-encode "
            "other characters)"
        )
    return value


def _event_types(values: list[str]) -> list[str]:
    known = [t.value for t in EventType]
    for value in values:
        if value not in known:
            hint = suggest(value, known)
            raise ValueError(
                f"'{value}' is not an event type; "
                + (hint if hint else f"one of: {', '.join(known)}")
            )
    if len(set(values)) != len(values):
        raise ValueError("an event type is named twice")
    return values


def _secret(value: str) -> str:
    signing.key(value)
    return value


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
# The one rule for a webhook URL, stated in the OpenAPI document and checked by `_url`. Written
# to mean the same in Python's re (with fullmatch) and in JSON Schema's ECMA-262 regexes: explicit
# ASCII classes, no \s or \w (their sets differ), the path and query printable ASCII but `#`.
_PRINTABLE_BUT_HASH = r'[!"$-~]'
URL_PATTERN = rf"^https?://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?(?:[/?]{_PRINTABLE_BUT_HASH}*)?$"
URL = re.compile(URL_PATTERN)
WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(_url),
    Field(json_schema_extra={"pattern": URL_PATTERN}),
]
EventTypes = Annotated[
    list[Annotated[str, StringConstraints(max_length=64)]],
    Field(
        min_length=1,
        max_length=len(EventType),
        json_schema_extra={"items": {"enum": [t.value for t in EventType]}, "uniqueItems": True},
    ),
    AfterValidator(_event_types),
]
_B64 = "[A-Za-z0-9+/]"
# The base64 of 24 to 64 bytes, padded or not.
_SECRET = (
    rf"^{signing.PREFIX}(?:(?:{_B64}{{4}}){{8,20}}(?:{_B64}{{2}}(?:==)?|{_B64}{{3}}=?)?"
    rf"|(?:{_B64}{{4}}){{21}}(?:{_B64}{{2}}(?:==)?)?)$"
)
Secret = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_secret),
    Field(
        description="whsec_ and the base64 of 24 to 64 random bytes; generated if absent.",
        json_schema_extra={"pattern": _SECRET},
    ),
]
Description = Annotated[str, StringConstraints(max_length=500)]


class WebhookCreate(Input):
    url: WebhookUrl
    event_types: EventTypes
    description: Description | None = None
    secret: Secret | None = None
    enabled: bool = True


class WebhookUpdate(Input):
    """Fields to change; absent fields stay. `enabled: false` disables the subscription: it
    receives no new events, and deliveries already due wait until it is enabled again."""

    url: kept(WebhookUrl) = None
    event_types: kept(EventTypes) = None
    description: Description | None = None
    enabled: kept(bool) = None


class SecretRotation(Input):
    secret: Secret | None = None


class WebhookRead(BaseModel):
    id: int
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    previous_secret_until: dt.datetime | None = Field(
        description="After a rotation the previous secret signs too, until this time."
    )

    @classmethod
    def of(cls, row: WebhookSubscription) -> WebhookRead:
        assert row.id is not None
        return cls(
            id=row.id,
            url=row.url,
            description=row.description,
            event_types=list(row.event_types),
            enabled=row.enabled,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            previous_secret_until=row.previous_secret_until,
        )


class WebhookWithSecret(WebhookRead):
    secret: str = Field(description="Shown this once: keep it to verify signatures.")


class AttemptRead(BaseModel):
    number: int
    at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    next_retry_at: dt.datetime | None

    @classmethod
    def of(cls, row: WebhookAttempt) -> AttemptRead:
        return cls.model_validate(row, from_attributes=True)


class DeliveryRead(BaseModel):
    id: int
    webhook_id: str = Field(description="The message's webhook-id, the same on every attempt.")
    event_type: str
    status: str
    attempt_count: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    attempts: list[AttemptRead]

    @classmethod
    def of(
        cls, row: WebhookDelivery, event_type: str, attempts: list[WebhookAttempt]
    ) -> DeliveryRead:
        assert row.id is not None
        return cls(
            id=row.id,
            webhook_id=row.event_id,
            event_type=event_type,
            status=row.status,
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
            attempts=[AttemptRead.of(a) for a in attempts],
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None
