"""Webhook records: subscriptions, the outbox of events, a delivery per event and subscription,
and the log of every attempt."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from leads.types import Id, JSONValue, UTCDateTime, utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    DELIVERED = "delivered"  # a 2xx answer came back
    FAILED = "failed"  # every attempt failed; an admin can retry it
    CANCELLED = "cancelled"  # not sent: the person it was about was erased


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] = Field(default_factory=list, sa_type=JSONValue)
    # whsec_ and the base64 of the key; kept as given, since signing needs the key itself.
    secret: str = Field(max_length=200)
    # After a rotation the old key signs too, for a while, so receivers can switch over.
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    enabled: bool = Field(default=True)
    version: int = Field(default=1)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookEvent(SQLModel, table=True):
    """The outbox: one row per event some subscription wanted, written in the transaction of
    the change. Its id is the message's `webhook-id`, the same on every attempt."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        Index("ix_webhook_event_lead_id", "lead_id"),
        Index("ix_webhook_event_contact_id", "contact_id"),
    )

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    type: str = Field(max_length=64)
    # Whom the event is about, so an erasure finds it; no foreign key, the event outlives them.
    lead_id: int | None = Field(default=None, sa_type=Id)
    contact_id: int | None = Field(default=None, sa_type=Id)
    # The exact bytes sent: {"type", "timestamp", "data"}.
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_subscription", "subscription_id", "id"),
        Index("ix_webhook_delivery_event", "event_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    event_id: str = Field(
        sa_column=Column(
            String(40), ForeignKey("webhook_event.id", ondelete="CASCADE"), nullable=False
        )
    )
    subscription_id: int = Field(
        sa_column=Column(
            Id, ForeignKey("webhook_subscription.id", ondelete="CASCADE"), nullable=False
        )
    )
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=20)
    attempts: int = Field(default=0)
    # The attempts made before an admin's last retry: the attempts allowed count from there.
    retry_base: int = Field(default=0)
    next_attempt_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery", "delivery_id", "number"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True))
    delivery_id: int = Field(
        sa_column=Column(Id, ForeignKey("webhook_delivery.id", ondelete="CASCADE"), nullable=False)
    )
    number: int
    at: dt.datetime = Field(sa_type=UTCDateTime)
    status_code: int | None = Field(default=None)
    error: str | None = Field(default=None, max_length=500)
    duration_ms: float
    next_retry_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
