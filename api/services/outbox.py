"""Events for webhooks: every change announces what happened with `emit`, in its own write
transaction, so an event is stored exactly when the change is (the outbox); the sender
(`api.webhook_sender`) delivers it afterwards.

    events.emit(connection, EventType.LEAD_QUALIFIED, [{"lead_id": 7, ...}])

A call with no enabled subscription wanting the type costs one small query and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Table, select

from api.storage.bulk import insert_rows
from api.storage.webhook_tables import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from leads.types import utcnow


class EventType(StrEnum):
    LEAD_CREATED = "lead.created"
    LEAD_UPDATED = "lead.updated"
    LEAD_STAGE_CHANGED = "lead.stage_changed"
    LEAD_SCORED = "lead.scored"
    LEAD_SALES_READY = "lead.sales_ready"
    LEAD_MARKETING_QUALIFIED = "lead.marketing_qualified"
    LEAD_ASSIGNED = "lead.assigned"
    LEAD_QUALIFIED = "lead.qualified"
    LEAD_DISQUALIFIED = "lead.disqualified"
    LEAD_REOPENED = "lead.reopened"
    OPPORTUNITY_UPDATED = "opportunity.updated"
    OPPORTUNITY_WON = "opportunity.won"
    OPPORTUNITY_LOST = "opportunity.lost"
    OPPORTUNITY_REOPENED = "opportunity.reopened"
    CONTACT_ERASED = "contact.erased"


SUBSCRIPTIONS: Table = WebhookSubscription.__table__  # type: ignore[attr-defined]
EVENTS: Table = WebhookEvent.__table__  # type: ignore[attr-defined]
DELIVERIES: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]

_EVENT_COLUMNS = ("id", "type", "lead_id", "contact_id", "body", "created_at")
_DELIVERY_COLUMNS = (
    "event_id",
    "subscription_id",
    "status",
    "attempts",
    "retry_base",
    "next_attempt_at",
    "created_at",
)
_SUBSCRIBED = select(SUBSCRIPTIONS.c.id, SUBSCRIPTIONS.c.event_types).where(
    SUBSCRIPTIONS.c.enabled.is_(True)
)


def subscribers(connection: Connection, type: EventType) -> list[int]:
    """The enabled subscriptions that want this type of event."""
    return [ident for ident, wanted in connection.execute(_SUBSCRIBED) if type.value in wanted]


def emit(
    connection: Connection,
    type: EventType,
    rows: Sequence[Mapping[str, Any]],
    *,
    now: dt.datetime | None = None,
) -> int:
    """Store one event of this type per row of data (each naming its `lead_id` or
    `contact_id`) for every subscription that wants it, in the caller's transaction, with one
    multi-row insert each for the events and their deliveries. Return the events stored."""
    if not rows:
        return 0
    wanted = subscribers(connection, type)
    if not wanted:
        return 0
    now = now or utcnow()
    stamp = timestamp(now)
    events: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    pending = DeliveryStatus.PENDING.value
    for data in rows:
        ident = message_id(now)
        events.append(
            {
                "id": ident,
                "type": type.value,
                "lead_id": data.get("lead_id"),
                "contact_id": data.get("contact_id"),
                "body": body(type.value, stamp, data),
                "created_at": now,
            }
        )
        deliveries += [
            {
                "event_id": ident,
                "subscription_id": subscription,
                "status": pending,
                "attempts": 0,
                "retry_base": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for subscription in wanted
        ]
    insert_rows(connection, EVENTS, _EVENT_COLUMNS, events)
    insert_rows(connection, DELIVERIES, _DELIVERY_COLUMNS, deliveries)
    return len(events)


def message_id(now: dt.datetime) -> str:
    """A unique id that sorts by time: msg_, milliseconds in hex, 64 random bits."""
    return f"msg_{int(now.timestamp() * 1000):012x}{secrets.token_hex(8)}"


def message_id_floor(moment: dt.datetime) -> str:
    """Every message id made before this moment sorts below this."""
    return f"msg_{int(moment.timestamp() * 1000):012x}"


def timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def body(type: str, stamp: str, data: Mapping[str, Any]) -> str:
    """The message as Standard Webhooks shapes it."""
    return json.dumps(
        {"type": type, "timestamp": stamp, "data": data},
        default=_plain,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


# -- what the events of a lead say ------------------------------------------------------------

LEAD_FIELDS = (
    "topic",
    "email",
    "process",
    "stage",
    "status",
    "status_reason",
    "owner",
    "sales_ready",
    "parent_contact_id",
    "parent_account_id",
    "attributes",
    "created_at",
)


def lead_data(values: Mapping[str, Any]) -> dict[str, Any]:
    """A lead (its columns as a mapping) as the data of lead.created."""
    data: dict[str, Any] = {"lead_id": values["id"]}
    data.update({name: values[name] for name in LEAD_FIELDS})
    kind, ident = values["context_kind"], values["context_id"]
    data["marketing_context"] = None if kind is None else {"kind": kind, "id": ident}
    return data


def actor_data(kind: str, name: str | None) -> dict[str, Any]:
    return {"kind": kind, "name": name}
