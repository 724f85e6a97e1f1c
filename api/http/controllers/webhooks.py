"""/api/webhooks: subscriptions to events, their secrets, and the delivery log (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from api.http.auth import roles
from api.http.conditional import etag, expected
from api.http.controllers.params import Cursor, IfMatch, Limit, RecordId
from api.http.state import services
from api.services import webhooks as service
from api.services.keys import Principal
from api.services.schemas.webhooks import (
    DeliveryPage,
    DeliveryRead,
    SecretRotation,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from api.services.webhook_targets import allowed
from api.storage.webhook_tables import DeliveryStatus, WebhookSubscription

ADMINS = roles()


def _answer(row: WebhookSubscription, status_code: int = 200) -> Response[WebhookRead]:
    return Response(
        WebhookRead.of(row), status_code=status_code, headers={"ETag": etag(row.version)}
    )


def _with_secret(
    row: WebhookSubscription, secret: str, status_code: int
) -> Response[WebhookWithSecret]:
    body = WebhookWithSecret(**WebhookRead.of(row).model_dump(), secret=secret)
    return Response(body, status_code=status_code, headers={"ETag": etag(row.version)})


class WebhookController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]

    @post("/", opt=ADMINS, sync_to_thread=True, operation_id="CreateWebhook")
    def create(
        self, request: Request[Principal, Any, State], data: JSONBody[WebhookCreate]
    ) -> Response[WebhookWithSecret]:
        """Subscribe a URL to event types. The signing secret is in this answer only."""
        parts = services(request)
        targets = allowed(parts.settings.webhook_allowed_targets)
        row, secret = service.create(parts.db, data, targets)
        return _with_secret(row, secret, 201)

    @get("/", opt=ADMINS, sync_to_thread=True, operation_id="ListWebhooks")
    def list(self, request: Request[Principal, Any, State]) -> list[WebhookRead]:
        return [WebhookRead.of(row) for row in service.listing(services(request).db)]

    @get("/{webhook_id:int}", opt=ADMINS, sync_to_thread=True, operation_id="GetWebhook")
    def read(
        self, request: Request[Principal, Any, State], webhook_id: RecordId
    ) -> Response[WebhookRead]:
        return _answer(service.get(services(request).db, webhook_id))

    @patch("/{webhook_id:int}", opt=ADMINS, sync_to_thread=True, operation_id="UpdateWebhook")
    def update(
        self,
        request: Request[Principal, Any, State],
        webhook_id: RecordId,
        data: JSONBody[WebhookUpdate],
        if_match: IfMatch = None,
    ) -> Response[WebhookRead]:
        """Change the URL, event types or description; `enabled: false` disables it."""
        parts = services(request)
        targets = allowed(parts.settings.webhook_allowed_targets)
        return _answer(
            service.update_subscription(parts.db, webhook_id, expected(if_match), data, targets)
        )

    @delete("/{webhook_id:int}", opt=ADMINS, sync_to_thread=True, operation_id="DeleteWebhook")
    def remove(
        self,
        request: Request[Principal, Any, State],
        webhook_id: RecordId,
        if_match: IfMatch = None,
    ) -> None:
        """Delete the subscription, its pending deliveries and its log."""
        service.remove(services(request).db, webhook_id, expected(if_match))

    @post(
        "/{webhook_id:int}/rotate-secret",
        opt=ADMINS,
        sync_to_thread=True,
        status_code=200,
        operation_id="RotateWebhookSecret",
    )
    def rotate(
        self,
        request: Request[Principal, Any, State],
        webhook_id: RecordId,
        data: JSONBody[SecretRotation],
        if_match: IfMatch = None,
    ) -> Response[WebhookWithSecret]:
        """A new secret, shown this once (send `{}` to have one made). For 24 hours messages
        carry a signature with the previous secret too."""
        row, secret = service.rotate(services(request).db, webhook_id, expected(if_match), data)
        return _with_secret(row, secret, 200)

    @get(
        "/{webhook_id:int}/deliveries",
        opt=ADMINS,
        sync_to_thread=True,
        operation_id="ListWebhookDeliveries",
    )
    def deliveries(
        self,
        request: Request[Principal, Any, State],
        webhook_id: RecordId,
        status: Annotated[DeliveryStatus | None, QueryParameter()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> DeliveryPage:
        """The delivery log: each message with every attempt (time, status code or error,
        duration, next retry), oldest first."""
        db = services(request).db
        items, next_cursor = service.deliveries(db, webhook_id, status, limit, cursor)
        return DeliveryPage(items=items, next_cursor=next_cursor)

    @get(
        "/{webhook_id:int}/deliveries/{delivery_id:int}",
        opt=ADMINS,
        sync_to_thread=True,
        operation_id="GetWebhookDelivery",
    )
    def delivery(
        self,
        request: Request[Principal, Any, State],
        webhook_id: RecordId,
        delivery_id: RecordId,
    ) -> DeliveryRead:
        return service.delivery(services(request).db, webhook_id, delivery_id)

    @post(
        "/{webhook_id:int}/deliveries/{delivery_id:int}/retry",
        opt=ADMINS,
        sync_to_thread=True,
        status_code=202,
        operation_id="RetryWebhookDelivery",
    )
    def retry(
        self,
        request: Request[Principal, Any, State],
        webhook_id: RecordId,
        delivery_id: RecordId,
    ) -> DeliveryRead:
        """Send a failed (or delivered) message again, with the same webhook-id."""
        return service.retry(services(request).db, webhook_id, delivery_id)
